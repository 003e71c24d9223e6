"""The model in ONNX Runtime for one-shot commands: the export computes what torch's float32 model
does, loads only where it exists and opens, and anything else falls back to torch."""

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.index import onnx_encoder
from assistant.index.embedding import Embedder, load_embedder, min_cosine
from assistant.index.models import DEFAULT
from assistant.index.onnx_encoder import OnnxEmbedder, choose_embedder
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings

TEXTS = ["Why did the government reject the report?", "", "Ｈｅｌｌｏ 世界 naïve café — “quoted”",
         "Revenue rose 3.5% to $5,000 million.", "Ferry workers went on strike. " * 80]  # the last: over 256 pieces


def test_onnx_vectors_and_token_counts_are_torch_float32s(onnx_export: Path) -> None:
    fast = choose_embedder(DEFAULT, "auto", "cpu", "onnx")
    full = load_embedder(DEFAULT, "float32", "cpu")
    assert isinstance(fast, OnnxEmbedder) and fast.dtype == "float32" and not isinstance(full, OnnxEmbedder)
    assert min_cosine(fast.encode(TEXTS), full.encode(TEXTS, 8)) >= onnx_encoder.MIN_COSINE
    assert fast.count_tokens(TEXTS) == full.count_tokens(TEXTS)
    assert (fast.max_tokens, fast.dim) == (full.max_tokens, full.dim)
    query = fast.encode_query(TEXTS[0])
    assert np.allclose(query, fast.encode(TEXTS)[0], atol=1e-5)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    # Batches of other shapes give the same vector (padding is masked out of the pooling).
    assert min_cosine(fast.encode([TEXTS[3]] * 3), fast.encode(TEXTS)[[3, 3, 3]]) > 0.99999


def test_runtime_setting_picks_the_engine(onnx_export: Path) -> None:
    assert isinstance(choose_embedder(DEFAULT, runtime="onnx"), OnnxEmbedder)
    for dtype, runtime in (("auto", "torch"), ("auto", "auto"), ("bfloat16", "onnx")):
        chosen = choose_embedder(DEFAULT, dtype, "cpu", runtime)
        assert isinstance(chosen, Embedder) and not isinstance(chosen, OnnxEmbedder)
    with pytest.raises(ConfigError, match="embed_runtime must be auto, torch, onnx"):
        choose_embedder(DEFAULT, runtime="tensorrt")


def test_a_missing_or_damaged_export_means_torch_then_a_new_export(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = onnx_encoder.model_folder(DEFAULT)
    assert folder is not None
    path = onnx_encoder.export_path(DEFAULT, folder)
    assert str(path).startswith(str(tmp_path)) and onnx_encoder.load(DEFAULT) is None  # none made here
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a model")  # damaged (a disk fault, a cut copy)
    assert onnx_encoder.load(DEFAULT) is None
    assert onnx_encoder.export(DEFAULT) == path
    assert isinstance(onnx_encoder.load(DEFAULT), OnnxEmbedder)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial file left behind


def test_dense_search_in_numpy_is_the_torch_one(sample_store: Path) -> None:
    """One-shot commands search without torch: the same chunks, the same float32 scores."""
    snap = Snapshot.load(Store.open(Settings(store=sample_store)))
    vector = load_embedder(DEFAULT).encode_query("Why did Marvala reject the OHCHR report?")
    mask = np.arange(snap.rows) % 3 == 0
    for keep in (None, mask):
        torch_hits = snap.dense(vector, 10, keep)
        numpy_hits = snap._dense_numpy(vector, 10, keep)
        assert [i for i, _ in numpy_hits] == [i for i, _ in torch_hits] and len(numpy_hits) == 10
        assert np.allclose([s for _, s in numpy_hits], [s for _, s in torch_hits], atol=1e-5)
    assert snap._dense_numpy(vector, 10, np.zeros(snap.rows, dtype=bool)) == []


"""The default model in ONNX Runtime, for commands that run once and exit (`assistant ask`,
`search`). Such a command loaded torch and sentence-transformers for every question: about 5 s
of imports before the first word, against 0.2 s for ONNX Runtime (already installed: Chroma
needs it) and the same model exported to ONNX. Its vectors are float32's (cosine 0.9999 or more
to torch's float32 on probe texts, checked when the file is made); a long-lived process (the
chat, ingestion) keeps torch, which on CPUs with native bf16 encodes sentences 1.5x faster.

The export is made once per machine and model weights, with torch (`export`, or `make install`
running this module), into the user cache; until it exists, one-shot commands use torch as
before and then make it, so the next command starts fast.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.index.embedding import PROBE_TEXTS, Embedder, WordPieceCounter, choose_device, load_embedder, min_cosine
from assistant.index.models import model_spec
from assistant.index.query_batch import QueryBatcher
from assistant.settings import cache_dir

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx")
MIN_COSINE = 0.9999  # to torch's float32: the export computes the same function, in float32
BATCH = 32  # texts per call, sorted by length so that each batch pads little


def model_folder(name: str) -> Path | None:
    """The sentence-transformers folder of a model that ONNX Runtime can run as we do (BERT-like,
    mean pooling, normalised); None for any other."""
    spec = model_spec(name)
    if spec.engine != "sentence-transformers":
        return None
    try:
        folder = Path(importlib.import_module(spec.module).get_model_path())
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return None
    if modules != ["Transformer", "Pooling", "Normalize"] or not pooling.get("pooling_mode_mean_tokens") \
            or any(v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"):
        return None
    return folder


def export_path(name: str, folder: Path) -> Path:
    """Where the export of these weights lives: keyed by the weights file's size and time, so that
    an upgraded model package makes a new one."""
    weights = folder / "model.safetensors"
    st = weights.stat()
    return cache_dir() / "onnx" / f"{name}-{st.st_size}-{st.st_mtime_ns}.onnx"


def idle_cores() -> int:
    """Threads for the encoder: the cores that other running processes leave free now, at least
    one (on a busy 2-core machine, two threads fighting others made llama.cpp 17x slower than
    one). Running now, not the load average: a command run just after another would see the
    earlier one's minute of load and take one thread on an idle machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) - 1  # less this one
    except (OSError, ValueError, IndexError):
        running = math.ceil(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, 8, cores - max(running, 0)))


class OnnxEmbedder(Embedder):
    """The model's exported graph in ONNX Runtime on the CPU, float32; thread-safe (a session runs
    calls concurrently; tokenizing holds a lock, as the tokenizer's settings are shared)."""

    def __init__(self, name: str, folder: Path, path: Path) -> None:  # not Embedder's: no torch model
        import onnxruntime
        from tokenizers import Tokenizer

        self.name, self.dtype, self.device = name, "float32", "cpu"
        self.runtime = "onnx"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = idle_cores()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.max_tokens = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter = WordPieceCounter(tokenizer)
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        # Its own lock: the session runs calls concurrently, and encode takes the tokenizer's.
        self._queries = QueryBatcher(self.encode, threading.Lock())
        self.dim = model_spec(name).dim

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encoded = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            width = max(len(encoded[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encoded[i].ids)
                ids[r, :n], mask[r, :n] = encoded[i].ids, 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def choose_embedder(name: str, dtype: str = "auto", device: str = "auto", runtime: str = "torch") -> Embedder:
    """`load_embedder`'s model, or for runtime onnx on the CPU (dtype auto or float32) the same
    model in ONNX Runtime where its export exists here; auto and torch: torch."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"embed_runtime must be {', '.join(RUNTIMES)}; not {runtime!r}.")
    if runtime == "onnx" and dtype in ("auto", "float32") and choose_device(device) == "cpu":
        fast = _load_once(name)
        if fast is not None:
            return fast
    return load_embedder(name, dtype, device)


@lru_cache(maxsize=4)
def _load_once(name: str) -> OnnxEmbedder | None:
    return load(name)


def load(name: str) -> OnnxEmbedder | None:
    """The model in ONNX Runtime if its export exists here and opens (None: use torch, and
    `export`, which replaces a damaged file)."""
    folder = model_folder(name)
    if folder is None:
        return None
    path = export_path(name, folder)
    if not path.is_file():
        return None
    try:
        return OnnxEmbedder(name, folder, path)
    except Exception as e:  # a damaged or unreadable file: torch serves, and a new export replaces it
        log.warning("ONNX model %s unusable (%s); using torch", path, e)
        return None


def export(name: str) -> Path | None:
    """Export the model's weights to ONNX (needs torch and onnx), check that ONNX Runtime's vectors
    agree with torch's float32 ones, and save the file where `load` finds it. None where the model
    cannot be exported, or the check fails (nothing is saved then)."""
    folder = model_folder(name)
    if folder is None:
        return None
    path = export_path(name, folder)
    if path.is_file() and load(name) is not None:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)  # first: an unwritable cache fails at once
    import torch
    from sentence_transformers import SentenceTransformer

    full = SentenceTransformer(str(folder), device="cpu", model_kwargs={"dtype": torch.float32})
    partial = path.with_suffix(f".{os.getpid()}.partial")
    try:
        _write_graph(full[0].auto_model, partial)
        got = OnnxEmbedder(name, folder, partial).encode(PROBE_TEXTS)
        want = full.encode(PROBE_TEXTS, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
        agreement = min_cosine(got, want)
        if agreement < MIN_COSINE:
            log.warning("ONNX export of %s disagrees with torch (cosine %.5f); not used", name, agreement)
            return None
        os.replace(partial, path)  # whole or not at all: a reader never sees a half-written file
        return path
    finally:
        partial.unlink(missing_ok=True)


def _write_graph(model: Any, path: Path) -> None:
    import torch

    class Hidden(torch.nn.Module):  # keyword arguments: transformers' positional order changes
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    # Traced on a padded batch: transformers skips the attention mask where it is all ones, and a
    # trace keeps only the branch it saw.
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 5:] = 0
    sample = (torch.full((2, 8), 1000, dtype=torch.long), mask, torch.zeros(2, 8, dtype=torch.long))
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes: the check below is the proof
        torch.onnx.export(Hidden(model.eval()), sample, str(path), input_names=names, output_names=["hidden"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def main() -> None:
    """`python -m assistant.index.onnx_encoder [MODEL]`: make the export (as `make install` does)."""
    import sys

    from assistant.index.embedding import offline_env
    from assistant.index.models import DEFAULT

    offline_env()
    name = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    try:
        made = export(name)
    except (OSError, ImportError) as e:  # an unwritable cache, a full disk, no onnx package
        raise SystemExit(f"No ONNX export of {name} ({type(e).__name__}: {e}); one-shot commands use torch.") from None
    print(f"ONNX export of {name}: {made}" if made else f"{name} runs in torch only (no ONNX export).")


if __name__ == "__main__":
    main()

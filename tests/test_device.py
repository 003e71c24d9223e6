"""Where the encoder runs (`device`): chosen automatically, CUDA then MPS then the CPU, or named.
No GPU exists here: the choice is tested through its probe seam, the CPU path for real."""

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.index.embedding import Accelerators, choose_device, load_embedder
from assistant.settings import Settings


def seeing(cuda: int = 0, mps: bool = False):  # type: ignore[no-untyped-def]
    return lambda: Accelerators(cuda, mps)


def test_auto_prefers_cuda_then_mps_then_the_cpu() -> None:
    assert choose_device("auto", seeing(cuda=2, mps=True)) == "cuda"
    assert choose_device("auto", seeing(mps=True)) == "mps"
    assert choose_device("auto", seeing()) == "cpu"
    assert choose_device("auto") == "cpu"  # this machine: torch built for the CPU alone


def test_a_named_device_is_taken_when_present() -> None:
    assert choose_device("cuda:1", seeing(cuda=2)) == "cuda:1"
    assert choose_device(" CUDA ", seeing(cuda=1)) == "cuda"
    assert choose_device("mps", seeing(mps=True)) == "mps"

    def never() -> Accelerators:
        raise AssertionError("cpu must not ask torch")

    assert choose_device("cpu", never) == "cpu"


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cuda1", "tpu", "", "cpu:0"])
def test_an_invalid_device_names_the_valid_ones(name: str) -> None:
    with pytest.raises(ConfigError) as e:
        choose_device(name, seeing(cuda=1))
    assert str(e.value) == f"device must be one of auto, cpu, cuda, cuda:N (N: the GPU's index), mps; not {name!r}."


def test_a_gpu_the_machine_lacks_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"device is cuda:2, but torch finds GPUs 0 to 1 here; use auto or cpu"):
        choose_device("cuda:2", seeing(cuda=2))
    with pytest.raises(ConfigError, match="device is cuda, but torch finds no CUDA GPU here"):
        choose_device("cuda", seeing(mps=True))
    with pytest.raises(ConfigError, match="device is mps, but torch finds no Apple GPU"):
        choose_device("mps", seeing(cuda=1))


def test_device_is_a_setting_like_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_DEVICE", raising=False)
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings.load().device == "auto"
    config = tmp_path / "a.toml"
    config.write_text('[assistant]\ndevice = "cuda:1"\n')
    assert Settings.load(config).device == "cuda:1"
    monkeypatch.setenv("ASSISTANT_DEVICE", "cpu")
    assert Settings.load(config).device == "cpu"
    assert Settings.load(config, device="mps").device == "mps"
    assert "device" in [name for name, _, _ in Settings.describe()]


def test_explicit_cpu_is_the_automatic_choice_here_with_the_same_vectors() -> None:
    """On the CPU nothing changes: one model for auto and cpu, the dtype chosen as before (bf16 where
    the CPU has it), the batch size 16 when none is given."""
    from assistant.index.embedding import cpu_has_bf16

    cpu, auto = load_embedder("all-MiniLM-L6-v2", "auto", "cpu"), load_embedder("all-MiniLM-L6-v2")
    assert cpu is auto and cpu.device == "cpu"
    assert cpu.dtype == ("bfloat16" if cpu_has_bf16() else "float32")
    texts = [f"The harbour report number {i} was filed " + "late " * i for i in range(40)]
    assert np.array_equal(cpu.encode(texts, 0), cpu.encode(texts, 16))
    with pytest.raises(ConfigError, match="device must be one of"):
        load_embedder("all-MiniLM-L6-v2", "auto", "gpu")
    with pytest.raises(ConfigError, match="embed_dtype must be auto, bfloat16, float16, float32; not 'half'"):
        load_embedder("all-MiniLM-L6-v2", "half", "cpu")


def test_half_precision_is_checked_against_float32() -> None:
    """The check a GPU's half precision must pass (run here on the CPU's bf16): the least cosine
    between its vectors and float32's, the figure benchmarks/results/bf16.md reports."""
    from assistant.index.embedding import HALF_MIN_COSINE, half_agrees

    full, half = load_embedder("all-MiniLM-L6-v2", "float32", "cpu"), load_embedder("all-MiniLM-L6-v2", "bfloat16", "cpu")
    assert 0.99 <= HALF_MIN_COSINE <= half_agrees(half, full) <= 1.0 + 1e-6
    assert half_agrees(full, full) == pytest.approx(1.0, abs=1e-6)


def test_encoder_processes_on_a_gpu_are_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingestion with a GPU: one encoder on it, not one process per core (nothing is started here)."""
    from ingest import encoder

    assert encoder.EncoderPool("all-MiniLM-L6-v2", "auto", processes=4, device="cuda").processes == 1
    assert encoder.EncoderPool("all-MiniLM-L6-v2", "auto", processes=4, device="cpu").processes == 4
    monkeypatch.setattr(encoder, "choose_device", lambda setting: "cuda:0")
    pool = encoder.open_encoder(Settings(embed_process="on", device="auto"), [], None)  # type: ignore[arg-type]
    assert isinstance(pool, encoder.EncoderPool) and pool.device == "cuda:0" and pool.processes == 1


class FakeSentenceTransformer:
    """SentenceTransformer's surface that Embedder uses, on a pretend device: records how it was
    built and each batch size; its vectors depend on the text alone, plus noise in half precision
    when `stray` is set (a GPU whose half precision disagrees with float32)."""

    built: list[tuple[str, str]] = []
    batches: list[int] = []
    stray = False

    def __init__(self, folder: str, device: str, model_kwargs: dict) -> None:  # type: ignore[type-arg]
        import torch

        from assistant.index.embedding import load_counter

        self.device = torch.device(device)
        self.dtype = str(model_kwargs["dtype"]).removeprefix("torch.")
        self.built.append((device, self.dtype))
        self.tokenizer = load_counter("all-MiniLM-L6-v2")[0].backend
        self.max_seq_length = 256

    def get_embedding_dimension(self) -> int:
        return 384

    def encode(self, texts: list[str], batch_size: int, **kwargs: object) -> np.ndarray:
        assert kwargs == {"normalize_embeddings": True, "convert_to_numpy": True, "show_progress_bar": False}
        self.batches.append(batch_size)
        vecs = np.stack([np.random.default_rng(len(t)).normal(size=384) for t in texts])
        if self.stray and self.dtype != "float32":
            vecs += np.random.default_rng(0).normal(scale=2.0, size=vecs.shape)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import sentence_transformers

    from assistant.index import embedding

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", FakeSentenceTransformer)
    monkeypatch.setattr(FakeSentenceTransformer, "built", [])
    monkeypatch.setattr(FakeSentenceTransformer, "batches", [])
    monkeypatch.setattr(FakeSentenceTransformer, "stray", False)
    return embedding._load.__wrapped__  # not the process's cache of real models


@pytest.mark.parametrize(("bf16", "stray", "dtype", "built", "chosen"), [
    (True, False, "auto", [("cuda", "bfloat16"), ("cuda", "float32")], "bfloat16"),
    (False, False, "auto", [("cuda", "float16"), ("cuda", "float32")], "float16"),
    (True, True, "auto", [("cuda", "bfloat16"), ("cuda", "float32")], "float32"),
    (False, True, "auto", [("cuda", "float16"), ("cuda", "float32")], "float32"),
    (True, True, "float16", [("cuda", "float16")], "float16"),  # named: taken unchecked, no float32 built
    (True, False, "float32", [("cuda", "float32")], "float32"),
])
def test_a_gpu_runs_half_precision_only_when_it_agrees_with_float32(
        fake_model, monkeypatch: pytest.MonkeyPatch, bf16: bool, stray: bool, dtype: str,  # type: ignore[no-untyped-def]
        built: list[tuple[str, str]], chosen: str) -> None:
    from assistant.index import embedding

    monkeypatch.setattr(embedding, "_gpu_has_bf16", lambda device: bf16)
    FakeSentenceTransformer.stray = stray
    e = fake_model("all-MiniLM-L6-v2", dtype, "cuda")
    assert FakeSentenceTransformer.built == built
    assert (e.dtype, e.device) == (chosen, "cuda")
    FakeSentenceTransformer.batches.clear()
    e.encode(["a", "bb"], 0)
    e.encode(["a", "bb"], 32)
    assert FakeSentenceTransformer.batches == [256, 32]  # 0: the device's own


def test_the_cpu_builds_the_model_as_before(fake_model) -> None:  # type: ignore[no-untyped-def]
    """On the CPU: one SentenceTransformer on "cpu", the CPU's dtype, no check, batch 16 for 0."""
    from assistant.index.embedding import cpu_has_bf16

    e = fake_model("all-MiniLM-L6-v2", "auto", "cpu")
    assert FakeSentenceTransformer.built == [("cpu", "bfloat16" if cpu_has_bf16() else "float32")]
    e.encode(["a"], 0)
    assert FakeSentenceTransformer.batches == [16]

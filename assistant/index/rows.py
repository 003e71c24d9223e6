"""Chunks as the store returns them: one chunk (`StoredChunk`), or many in columns (`Chunks`,
with their vectors as one array, for the snapshot), made from Chroma's results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from assistant.index.meta import TEXT, ChunkMeta


@dataclass(frozen=True)
class StoredChunk:
    """A chunk's text and metadata (its vector is not read: see `Chunks`)."""

    id: str
    text: str
    meta: ChunkMeta


@dataclass
class Chunks:
    """Chunks in columns: row i is ids[i], texts[i], metas[i], vectors[i] (float32, one row a
    chunk; shape (0, 0) when there are none)."""

    ids: list[str]
    texts: list[str]
    metas: list[ChunkMeta]
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Chunks:
        return cls([], [], [], np.zeros((0, 0), np.float32))

    @classmethod
    def concat(cls, parts: Sequence[Chunks]) -> Chunks:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(list(chain.from_iterable(p.ids for p in parts)), list(chain.from_iterable(p.texts for p in parts)),
                   list(chain.from_iterable(p.metas for p in parts)), np.concatenate([p.vectors for p in parts]))

    def take(self, order: Sequence[str]) -> Chunks:
        """These chunks in the order of `order`'s ids, leaving out those not here."""
        row = {cid: i for i, cid in enumerate(self.ids)}
        keep = [row[cid] for cid in order if cid in row]
        if not keep:
            return Chunks.empty()
        if keep == list(range(len(self.ids))):  # already so: no copy (of 1.5 GB of vectors at 1M)
            return self
        return Chunks([self.ids[i] for i in keep], [self.texts[i] for i in keep],
                      [self.metas[i] for i in keep], self.vectors[keep])

    @classmethod
    def from_chroma(cls, got: Mapping[str, Any]) -> Chunks:
        """From a Chroma get that included metadatas and embeddings."""
        if not got["ids"]:
            return cls.empty()
        texts, metas = _texts_and_metas(got)
        return cls(list(got["ids"]), texts, metas, np.asarray(got["embeddings"], dtype=np.float32))


def stored_chunks(got: Mapping[str, Any]) -> dict[str, StoredChunk]:
    """id -> StoredChunk, from a Chroma get that included metadatas."""
    texts, metas = _texts_and_metas(got)
    return {cid: StoredChunk(cid, t, m) for cid, t, m in zip(got["ids"], texts, metas)}


def _texts_and_metas(got: Mapping[str, Any]) -> tuple[list[str], list[ChunkMeta]]:
    """Each chunk's text (from its TEXT field, or for stores written before that field, from
    Chroma's documents) and metadata."""
    raw = [m or {} for m in got["metadatas"]]
    docs = got.get("documents") or [None] * len(raw)
    return ([str(m.get(TEXT) or d or "") for m, d in zip(raw, docs)],
            [ChunkMeta.from_metadata(m) for m in raw])

"""Making a snapshot segment from chunks read from the store: their columns, vectors and term
counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from assistant.index.keyword import tokenize
from assistant.index.meta import ChunkMeta
from assistant.index.postings import Postings
from assistant.index.rows import Chunks
from assistant.index.search import SnapshotSearch
from assistant.index.segment import Segment, build

TITLES_IN_BM25 = False  # measured: titles repeated in every chunk of a long report crowd out short articles
S = TypeVar("S", bound=SnapshotSearch)


@dataclass
class Rows:
    """A snapshot's columns before coding, one entry per chunk."""

    doc_keys: list[str]
    sources: list[str]
    kinds: list[str]
    dates: np.ndarray
    positions: np.ndarray
    pages: np.ndarray
    vectors: np.ndarray
    collections: list[str]

    @classmethod
    def read(cls, metas: Sequence[ChunkMeta], vectors: np.ndarray, dim: int = 0) -> Rows:
        """From chunks as the store gives them."""
        return cls([f"{m.file}\0{m.doc_id}" for m in metas],
                   [m.source or "" for m in metas], [m.kind for m in metas],
                   np.array([m.date_num or 0 for m in metas], dtype=np.int64),
                   np.array([m.chunk for m in metas], dtype=np.int32),
                   np.array([m.page or 0 for m in metas], dtype=np.int32),
                   vectors if len(metas) else np.zeros((0, dim), np.float32), [m.collection for m in metas])


def chunk_terms(texts: list[str], metas: Sequence[ChunkMeta]) -> tuple[list[np.ndarray], list[str]]:
    """Each text's keyword terms as ids into the vocabulary returned with them."""
    if not texts:
        return [], []
    if TITLES_IN_BM25:
        texts = [f"{m.title}\n{t}" for m, t in zip(metas, texts)]
    tokens = tokenize(texts)
    vocab = [term for term, _ in sorted(tokens.vocab.items(), key=lambda item: item[1])]
    return [np.asarray(ids, dtype=np.int32) for ids in tokens.ids], vocab


def segment_of(ids: list[str], rows: Rows, terms: Sequence[np.ndarray], vocab: Sequence[str]) -> Segment:
    """The segment of these chunks: columns coded, term counts made from the terms."""
    values = {"dates": rows.dates, "sources": rows.sources, "kinds": rows.kinds, "docs": rows.doc_keys,
              "positions": rows.positions, "pages": rows.pages, "collections": rows.collections}
    return build(ids, values, rows.vectors, Postings.build(terms, vocab))


def read_segment(chunks: Chunks, dim: int = 0) -> Segment:
    """The segment of chunks as the store gives them."""
    rows = Rows.read(chunks.metas, chunks.vectors, dim)
    return segment_of(chunks.ids, rows, *chunk_terms(chunks.texts, chunks.metas))


def assemble(cls: type[S], generation: str, store_id: str, ids: list[str], rows: Rows,
             terms: list[np.ndarray], vocab: list[str]) -> S:
    """A snapshot of these chunks alone, in one segment."""
    snap = cls(generation, segment_of(ids, rows, terms, vocab))
    snap.store_id = store_id
    return snap

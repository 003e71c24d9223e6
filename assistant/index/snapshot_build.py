"""Making a snapshot's columns and keyword index from chunks: read from the store, kept from a
saved snapshot, or both merged (a refresh)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from assistant.index.keyword import bm25_index, tokenize
from assistant.index.meta import ChunkMeta
from assistant.index.search import SnapshotSearch
from assistant.index.snapshot_files import Saved

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

    @classmethod
    def saved(cls, old: Saved, rows: np.ndarray) -> Rows:
        """These rows of a saved snapshot."""
        cols = old.columns

        def names(values: list[str], codes: np.ndarray) -> list[str]:
            return [values[int(c)] for c in codes[rows]]

        # A run of rows (every row kept, in order: the usual refresh after an addition) is a view
        # of the memory-mapped vectors, not a copy of them (1.5 GB and 5 s at 1M chunks).
        run = len(rows) > 0 and bool((np.diff(rows) == 1).all())
        vectors = old.vectors[int(rows[0]):int(rows[-1]) + 1] if run else old.vectors[rows]
        return cls(names(old.doc_keys, cols["docs"]), names(old.source_names, cols["sources"]),
                   names(old.kind_names, cols["kinds"]), cols["dates"][rows], cols["positions"][rows],
                   cols["pages"][rows], np.asarray(vectors, dtype=np.float32),
                   names(old.collection_names, cols["collections"]))

    @classmethod
    def merge(cls, take_first: np.ndarray, first: Rows, second: Rows) -> Rows:
        """Rows of `first` where `take_first` is true, of `second` elsewhere, each in order."""
        def strings(a: list[str], b: list[str]) -> list[str]:
            ia, ib = iter(a), iter(b)
            return [next(ia) if t else next(ib) for t in take_first]

        appended = bool(take_first[:len(first.doc_keys)].all())  # the first's rows, then the second's

        def array(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            if appended and len(a) and len(b) and a.shape[1:] == b.shape[1:]:
                return np.concatenate([a, b.astype(a.dtype, copy=False)])  # slices, not masks
            # An empty side may have no columns (an empty store's vectors): it sets nothing.
            shape = (a if len(a) else b).shape[1:]
            out = np.empty((len(take_first), *shape), dtype=a.dtype)
            if len(a):
                out[take_first] = a
            if len(b):
                out[~take_first] = b
            return out

        return cls(strings(first.doc_keys, second.doc_keys), strings(first.sources, second.sources),
                   strings(first.kinds, second.kinds), array(first.dates, second.dates),
                   array(first.positions, second.positions), array(first.pages, second.pages),
                   array(first.vectors, second.vectors), strings(first.collections, second.collections))


def chunk_terms(texts: list[str], metas: Sequence[ChunkMeta],
                vocab: list[str] | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Each text's keyword terms as ids into `vocab`, which grows by the terms it lacks."""
    vocab = list(vocab or [])
    if not texts:
        return [], vocab
    if TITLES_IN_BM25:
        texts = [f"{m.title}\n{t}" for m, t in zip(metas, texts)]
    tokens = tokenize(texts)
    index = {term: i for i, term in enumerate(vocab)}
    local = sorted(tokens.vocab.items(), key=lambda item: item[1])
    remap = np.array([index.setdefault(term, len(index)) for term, _ in local], dtype=np.int32)
    vocab += list(index)[len(vocab):]
    return [remap[np.asarray(ids, dtype=np.int64)] if len(ids) else np.zeros(0, np.int32)
            for ids in tokens.ids], vocab


def assemble(cls: type[S], generation: str, store_id: str, ids: list[str], rows: Rows,
             terms: list[np.ndarray], vocab: list[str]) -> S:
    """The snapshot of these chunks: columns coded, the keyword index built from the terms."""
    import bm25s

    # Terms no chunk uses any more are dropped, so the vocabulary does not grow with churn.
    used = np.bincount(np.concatenate(terms), minlength=len(vocab)) > 0 if terms else \
        np.zeros(len(vocab), dtype=bool)
    if not used.all():  # else every id stays as it is (1M chunks: 6 s of renumbering saved)
        renumber = np.cumsum(used, dtype=np.int64) - 1
        terms = [renumber[t].astype(np.int32) for t in terms]
        vocab = [v for v, u in zip(vocab, used) if u]
    bm25 = bm25_index(terms, vocab) if ids else bm25s.BM25()
    doc_code: dict[str, int] = {}
    docs = np.array([doc_code.setdefault(k, len(doc_code)) for k in rows.doc_keys], dtype=np.int32)
    source_names, kind_names = sorted(set(rows.sources)), sorted(set(rows.kinds))
    collection_names = sorted(set(rows.collections))
    s_code = {n: i for i, n in enumerate(source_names)}
    k_code = {n: i for i, n in enumerate(kind_names)}
    c_code = {n: i for i, n in enumerate(collection_names)}
    snap = cls(generation, ids, bm25, rows.dates,
               np.array([s_code[s] for s in rows.sources], dtype=np.int32), source_names,
               np.array([k_code[k] for k in rows.kinds], dtype=np.int32), kind_names,
               rows.vectors, docs, rows.positions, rows.pages,
               np.array([c_code[c] for c in rows.collections], dtype=np.int32), collection_names)
    snap.terms, snap.vocab, snap.doc_keys, snap.store_id = terms, vocab, list(doc_code), store_id
    return snap

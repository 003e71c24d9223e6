"""A local snapshot of the store for what Chroma does slowly or not at all: BM25 keyword
search, IDF statistics, and exact filtered search over metadata columns and vectors.

It is derived data, saved beside the store (or in the user cache for a Chroma server) with
the store generation it was built from. Ingestion refreshes it after every change; so does a
reader that finds it older than the store (say, after an interrupted ingestion). A refresh
asks Chroma, the source of truth, only for the list of chunk ids and for the chunks the saved
snapshot lacks, and reuses the rest: chunk ids derive from their document's content and
metadata, so a chunk under the same id is the same chunk. Each chunk's keyword terms are
saved for that, since BM25's statistics change with every chunk added or removed. Where the
saved snapshot is missing, damaged or from another collection, it is rebuilt from the whole
store. meta.json records a CRC-32 of every file and of itself, so a damaged file is noticed
instead of loaded.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.keyword import bm25_index, terms, tokenize
from assistant.index.locks import saving
from assistant.index.store import Store, local_cache_dir

# Held while a snapshot is built or loaded, so that an ingestion in this process (the chat's
# uploads) and a reader never write the same folder at once. Re-entrant: load() rebuilds.
_LOCK = threading.RLock()
# Bound on |bf16 score - float32 score| for unit vectors: rounding the vectors, the query and
# the result to bf16 (2^-8 each, relative) plus float32 accumulation over 384 terms.
BF16_ERROR = 0.0125
TITLES_IN_BM25 = False  # measured: titles repeated in every chunk of a long report crowd out short articles


@dataclass
class Filters:
    """Which chunks a search may return. Dates are compared as YYYYMMDD integers; a chunk
    without a date is excluded by any date bound."""

    since: int | None = None
    until: int | None = None
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources or self.kinds)


class Snapshot:
    def __init__(self, generation: str, ids: list[str], bm25: Any, dates: np.ndarray,
                 sources: np.ndarray, source_names: list[str], kinds: np.ndarray, kind_names: list[str],
                 vectors: np.ndarray, docs: np.ndarray, positions: np.ndarray, pages: np.ndarray) -> None:
        self.generation = generation
        self.ids = ids
        self.bm25 = bm25
        self.dates, self.sources, self.kinds = dates, sources, kinds
        self.source_names, self.kind_names = source_names, kind_names
        self.vectors = vectors
        # Where each chunk sits: its document, its position in it, its page (0: none).
        self.docs, self.positions, self.pages = docs, positions, pages
        self._order = np.lexsort((positions, docs))  # rows in document order
        self._rank = np.empty_like(self._order)
        self._rank[self._order] = np.arange(len(self._order))
        self._row = {cid: i for i, cid in enumerate(ids)}
        self._matrix: Any = None  # the vectors as a torch tensor, made on first dense search
        self._matrix_lock = threading.Lock()
        # Saved for refreshes only (readers never load them): each chunk's keyword terms, as
        # ids into `vocab`, and each document code's key. `reused`: rows a refresh kept.
        self.terms: list[np.ndarray] | None = None
        self.vocab: list[str] = []
        self.doc_keys: list[str] = []
        self.collection = ""
        self.reused = 0

    @staticmethod
    def folder(store: Store) -> Path:
        return local_cache_dir(store.settings) / "snapshot"

    # -- building and loading ------------------------------------------------------------
    @classmethod
    def rebuild(cls, store: Store) -> Snapshot:
        """A snapshot of the whole store, read from Chroma, saved."""
        with _LOCK:
            return cls._rebuild(store)

    @classmethod
    def _rebuild(cls, store: Store) -> Snapshot:
        generation = store.generation
        got = store.everything()
        snap = _assemble(generation, store.identity, got["ids"], _Rows.read(got["metadatas"], got["embeddings"]),
                         *_terms(got["documents"], got["metadatas"]))
        snap._save(store)
        return snap

    @classmethod
    def refresh(cls, store: Store) -> Snapshot:
        """The saved snapshot brought in line with the store, saved: chunks it holds are
        reused, only the others are read from Chroma. A full rebuild where no saved snapshot
        of this collection can be read, or where it lacks most of the store's chunks."""
        with _LOCK:
            generation = store.generation  # before reading: a later change makes this stale
            old = _saved(cls.folder(store), store.identity)
            if old is None:
                return cls._rebuild(store)
            known = old["row"]
            listed = store.all_ids()
            unknown = [c for c in listed if c not in known]
            if len(unknown) > len(listed) // 2:
                # Reading chunks by id costs twice as much a chunk as reading them all in pages.
                return cls._rebuild(store)
            fresh = store.fetch(unknown)
            found = set(fresh["ids"])  # less any chunk deleted since the listing
            ids = [c for c in listed if c in known or c in found]
            kept = np.array([known.get(c, -1) for c in ids], dtype=np.int64)
            is_old = kept >= 0
            new = _Rows.read(fresh["metadatas"], fresh["embeddings"], dim=old["vectors"].shape[1])
            rows = _Rows.merge(is_old, _Rows.saved(old, kept[is_old]), new)
            new_terms, vocab = _terms(fresh["documents"], fresh["metadatas"], old["vocab"])
            unread = iter(new_terms)
            terms = [old["terms"][row] if row >= 0 else next(unread) for row in kept]
            snap = _assemble(generation, store.identity, ids, rows, terms, vocab)
            snap.reused = int(is_old.sum())
            snap._save(store)
            return snap

    def _save(self, store: Store) -> None:
        """Saved, unless another process is writing the store: it saves the next snapshot."""
        with saving(store.settings) as free:
            if free:
                self.save(self.folder(store))

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self.bm25.save(str(tmp / "bm25"), show_progress=False)
        np.savez(tmp / "columns.npz", dates=self.dates, sources=self.sources, kinds=self.kinds, docs=self.docs,
                 positions=self.positions, pages=self.pages)
        np.save(tmp / "vectors.npy", self.vectors)
        if self.terms is not None:
            lengths = np.array([len(t) for t in self.terms], dtype=np.int64)
            flat = np.concatenate(self.terms) if self.terms else np.zeros(0, np.int32)
            np.savez(tmp / "terms.npz", flat=flat.astype(np.int32), offsets=np.concatenate(([0], np.cumsum(lengths))))
            (tmp / "keys.json").write_text(json.dumps({"vocab": self.vocab, "doc_keys": self.doc_keys}))
        meta = {"generation": self.generation, "collection": self.collection, "ids": self.ids,
                "source_names": self.source_names, "kind_names": self.kind_names,
                "files": {str(f.relative_to(tmp)): _crc(f) for f in sorted(tmp.rglob("*")) if f.is_file()}}
        (tmp / "meta.json").write_text(json.dumps({**meta, "check": _crc_text(meta)}))
        # Swap in whole, so a reader never sees half a snapshot.
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, store: Store) -> Snapshot:
        """The saved snapshot if it matches the store's generation, else refreshed."""
        import bm25s

        folder = cls.folder(store)
        with _LOCK:
            try:
                meta = json.loads((folder / "meta.json").read_text())
                if meta["generation"] == store.generation and _whole(folder, meta):
                    cols = np.load(folder / "columns.npz")
                    bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if meta["ids"] \
                        else bm25s.BM25()
                    snap = cls(meta["generation"], meta["ids"], bm25, cols["dates"], cols["sources"],
                               meta["source_names"], cols["kinds"], meta["kind_names"],
                               np.load(folder / "vectors.npy", mmap_mode="r"), cols["docs"],
                               cols["positions"], cols["pages"])
                    if snap.consistent():
                        return snap
            except (OSError, ValueError, KeyError, TypeError):
                pass  # missing or damaged: rebuilt below from the store
            return cls.refresh(store)

    def consistent(self) -> bool:
        """Every column has one row per id."""
        n = len(self.ids)
        rows = {len(self.dates), len(self.sources), len(self.kinds), len(self.docs), len(self.positions),
                len(self.pages), self.vectors.shape[0]}
        return rows == {n} and (n == 0 or int(self.bm25.scores["num_docs"]) == n)

    # -- searching ---------------------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray:
        keep = np.ones(len(self.ids), dtype=bool)
        if filters.since:
            keep &= self.dates >= filters.since
        if filters.until:
            keep &= (self.dates <= filters.until) & (self.dates > 0)
        if filters.sources:
            wanted = {s.lower() for s in filters.sources}
            codes = [i for i, n in enumerate(self.source_names) if n.lower() in wanted]
            keep &= np.isin(self.sources, codes)
        if filters.kinds:
            wanted = {k.lower().lstrip(".") for k in filters.kinds}
            codes = [i for i, n in enumerate(self.kind_names) if n in wanted]
            keep &= np.isin(self.kinds, codes)
        return keep

    def keyword(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) for the best k chunks that share a term with the query."""
        if not self.ids:
            return []
        tokens = tokenize([query])
        if not tokens.ids or not tokens.ids[0]:
            return []
        weights = None if mask is None else mask.astype(np.float32)
        docs, scores = self.bm25.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False,
                                          n_threads=1, weight_mask=weights)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def dense(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Exact nearest neighbours (cosine: the vectors are normalised), among the chunks the
        mask keeps. One matrix-vector product over all chunks beats gathering the kept rows.

        Where the CPU has bf16 dot products, the product runs over a bf16 copy of the vectors
        (half the memory traffic) and the candidates are rescored in float32: every bf16 score
        is within BF16_ERROR of the float32 one, so any chunk whose bf16 score is within twice
        that of the k-th best may belong to the top k, and all of those are rescored, which
        makes the result the float32 one. The product runs in torch, not numpy: the encoder's
        threads are torch's, and numpy's BLAS threads spinning beside them doubled the query
        embedding's time."""
        if not self.ids or k <= 0:
            return []
        import torch

        matrix = self._torch_matrix()
        query = torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32))
        sims = torch.mv(matrix, query.to(matrix.dtype)).float().numpy()
        if mask is not None:
            sims = np.where(mask, sims, -np.inf)
            k = min(k, int(mask.sum()))
            if k == 0:
                return []
        k = min(k, sims.size)
        if matrix.dtype == torch.bfloat16:
            kth = np.partition(sims, sims.size - k)[sims.size - k]
            rows = np.flatnonzero(sims >= kth - 2 * BF16_ERROR)
            exact = torch.from_numpy(np.asarray(self.vectors[rows], dtype=np.float32)) @ query
            sims = np.full(sims.size, -np.inf, dtype=np.float32)
            sims[rows] = exact.numpy()
        top = np.argpartition(-sims, k - 1)[:k] if sims.size > k else np.arange(sims.size)
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.ids[int(i)], float(sims[i])) for i in top]

    def _torch_matrix(self) -> Any:
        with self._matrix_lock:
            if self._matrix is None:
                import torch

                from assistant.index.embedding import cpu_has_bf16

                # Filled in slices: the vectors are memory-mapped, and a whole float32 copy
                # would double the memory this costs.
                n, dim = self.vectors.shape
                matrix = torch.empty((n, dim), dtype=torch.bfloat16 if cpu_has_bf16() else torch.float32)
                for i in range(0, n, 8192):
                    matrix[i:i + 8192] = torch.from_numpy(np.array(self.vectors[i:i + 8192], dtype=np.float32))
                self._matrix = matrix
            return self._matrix

    def neighbours(self, cid: str, before: int, after: int) -> list[str]:
        """The chunk and up to `before`/`after` chunks around it, in document order, from the
        same document and the same page."""
        row = self._row.get(cid)
        if row is None:
            return [cid]
        rank = int(self._rank[row])
        lo, hi = max(rank - before, 0), min(rank + after, len(self.ids) - 1)
        rows = self._order[lo:hi + 1]
        same = (self.docs[rows] == self.docs[row]) & (self.pages[rows] == self.pages[row])
        # contiguous around the chunk itself: stop at the first row of another document or page
        keep = [int(r) for r in rows[: rank - lo][::-1][np.cumprod(same[: rank - lo][::-1]) > 0][::-1]]
        keep.append(row)
        keep += [int(r) for r in rows[rank - lo + 1:][np.cumprod(same[rank - lo + 1:]) > 0]]
        return [self.ids[r] for r in keep]

    def spread(self, ranked: list[tuple[str, float]], cap: int) -> list[tuple[str, float]]:
        """`ranked` with each document page's chunks after its first `cap` moved behind all the
        others (in their order). Chunks of documents without pages stay where they are."""
        seen: dict[tuple[int, int], int] = {}
        first: list[tuple[str, float]] = []
        rest: list[tuple[str, float]] = []
        for cid, score in ranked:
            row = self._row.get(cid)
            page = int(self.pages[row]) if row is not None else 0
            if page:
                key = (int(self.docs[row]), page)
                seen[key] = seen.get(key, 0) + 1
            (rest if page and seen[key] > cap else first).append((cid, score))
        return first + rest

    def coverage(self, query: str, cid: str) -> float:
        """The IDF-weighted share of the query's terms that chunk `cid` contains, read from the
        keyword index's postings (0 for an unknown chunk or a query without terms)."""
        row = self._row.get(cid)
        wanted = set(terms(query))
        if row is None or not wanted or not self.ids:
            return 0.0
        vocab = getattr(self.bm25, "vocab_dict", {})
        indptr, indices = self.bm25.scores["indptr"], self.bm25.scores["indices"]
        total = found = 0.0
        for term in wanted:
            weight = self.idf(term)
            total += weight
            tid = vocab.get(term)
            if tid is not None:
                postings = indices[indptr[tid]:indptr[tid + 1]]
                i = int(np.searchsorted(postings, row))
                found += weight if i < len(postings) and postings[i] == row else 0.0
        return found / total if total else 0.0

    def idf(self, term: str) -> float:
        """Inverse document frequency over chunks; a term the archive lacks gets the maximum."""
        n = len(self.ids)
        tid = getattr(self.bm25, "vocab_dict", {}).get(term) if n else None
        df = 0
        if tid is not None:
            indptr = self.bm25.scores["indptr"]
            df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


@dataclass
class _Rows:
    """A snapshot's columns before coding, one entry per chunk."""

    doc_keys: list[str]
    sources: list[str]
    kinds: list[str]
    dates: np.ndarray
    positions: np.ndarray
    pages: np.ndarray
    vectors: np.ndarray

    @classmethod
    def read(cls, metas: Sequence[dict[str, Any]], vectors: np.ndarray, dim: int = 0) -> _Rows:
        """From chunks as the store gives them."""
        return cls([f"{m.get('file', '')}\0{m.get('doc_id', '')}" for m in metas],
                   [str(m.get("source", "")) for m in metas], [str(m.get("kind", "")) for m in metas],
                   np.array([int(m.get("date_num", 0) or 0) for m in metas], dtype=np.int64),
                   np.array([int(m.get("chunk", 0) or 0) for m in metas], dtype=np.int32),
                   np.array([int(m.get("page", 0) or 0) for m in metas], dtype=np.int32),
                   vectors if len(metas) else np.zeros((0, dim), np.float32))

    @classmethod
    def saved(cls, old: dict[str, Any], rows: np.ndarray) -> _Rows:
        """These rows of a saved snapshot (`_saved`)."""
        cols = old["columns"]

        def names(key: str, codes: np.ndarray) -> list[str]:
            return [old[key][int(c)] for c in codes[rows]]

        return cls(names("doc_keys", cols["docs"]), names("source_names", cols["sources"]),
                   names("kind_names", cols["kinds"]), cols["dates"][rows], cols["positions"][rows],
                   cols["pages"][rows], np.asarray(old["vectors"][rows], dtype=np.float32))

    @classmethod
    def merge(cls, take_first: np.ndarray, first: _Rows, second: _Rows) -> _Rows:
        """Rows of `first` where `take_first` is true, of `second` elsewhere, each in order."""
        def strings(a: list[str], b: list[str]) -> list[str]:
            ia, ib = iter(a), iter(b)
            return [next(ia) if t else next(ib) for t in take_first]

        def array(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
                   array(first.vectors, second.vectors))


def _terms(texts: list[str], metas: Sequence[dict[str, Any]],
           vocab: list[str] | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Each text's keyword terms as ids into `vocab`, which grows by the terms it lacks."""
    vocab = list(vocab or [])
    if not texts:
        return [], vocab
    if TITLES_IN_BM25:
        texts = [f"{m.get('title') or ''}\n{t}" for m, t in zip(metas, texts)]
    tokens = tokenize(texts)
    index = {term: i for i, term in enumerate(vocab)}
    local = sorted(tokens.vocab.items(), key=lambda item: item[1])
    remap = np.array([index.setdefault(term, len(index)) for term, _ in local], dtype=np.int32)
    vocab += list(index)[len(vocab):]
    return [remap[np.asarray(ids, dtype=np.int64)] if len(ids) else np.zeros(0, np.int32)
            for ids in tokens.ids], vocab


def _assemble(generation: str, collection: str, ids: list[str], rows: _Rows, terms: list[np.ndarray],
              vocab: list[str]) -> Snapshot:
    """The snapshot of these chunks: columns coded, the keyword index built from the terms."""
    import bm25s

    # Terms no chunk uses any more are dropped, so the vocabulary does not grow with churn.
    used = np.bincount(np.concatenate(terms), minlength=len(vocab)) > 0 if terms else \
        np.zeros(len(vocab), dtype=bool)
    renumber = np.cumsum(used, dtype=np.int64) - 1
    terms = [renumber[t].astype(np.int32) for t in terms]
    vocab = [v for v, u in zip(vocab, used) if u]
    bm25 = bm25_index(terms, vocab) if ids else bm25s.BM25()
    doc_code: dict[str, int] = {}
    docs = np.array([doc_code.setdefault(k, len(doc_code)) for k in rows.doc_keys], dtype=np.int32)
    source_names, kind_names = sorted(set(rows.sources)), sorted(set(rows.kinds))
    s_code = {n: i for i, n in enumerate(source_names)}
    k_code = {n: i for i, n in enumerate(kind_names)}
    snap = Snapshot(generation, ids, bm25, rows.dates,
                    np.array([s_code[s] for s in rows.sources], dtype=np.int32), source_names,
                    np.array([k_code[k] for k in rows.kinds], dtype=np.int32), kind_names,
                    rows.vectors, docs, rows.positions, rows.pages)
    snap.terms, snap.vocab, snap.doc_keys, snap.collection = terms, vocab, list(doc_code), collection
    return snap


def _saved(folder: Path, collection: str) -> dict[str, Any] | None:
    """What a refresh reuses of the saved snapshot, whatever its generation: None where it is
    missing, damaged, from another collection or saved before snapshots kept their terms."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("collection") != collection or "terms.npz" not in meta["files"] or not _whole(folder, meta):
            return None
        keys = json.loads((folder / "keys.json").read_text())
        stored = np.load(folder / "terms.npz")
        flat, offsets = stored["flat"], stored["offsets"]
        cols = dict(np.load(folder / "columns.npz"))
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        n = len(meta["ids"])
        if len(offsets) != n + 1 or vectors.shape[0] != n or any(len(c) != n for c in cols.values()):
            return None
        return {"row": {c: i for i, c in enumerate(meta["ids"])}, "columns": cols, "vectors": vectors,
                "terms": [flat[offsets[i]:offsets[i + 1]] for i in range(n)], "vocab": keys["vocab"],
                "doc_keys": keys["doc_keys"], "source_names": meta["source_names"],
                "kind_names": meta["kind_names"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            crc = zlib.crc32(block, crc)
    return crc


def _crc_text(meta: dict[str, Any]) -> int:
    return zlib.crc32(json.dumps(meta, sort_keys=True).encode())


def _whole(folder: Path, meta: dict[str, Any]) -> bool:
    """meta.json is intact and every file it lists has the checksum it was saved with."""
    check = meta.pop("check", None)
    return check == _crc_text(meta) and all(
        (folder / name).is_file() and _crc(folder / name) == crc for name, crc in meta["files"].items())

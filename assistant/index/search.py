"""Searching a snapshot of the store: filter masks over its metadata columns, BM25 keyword
search, exact dense search over its vectors, a chunk's neighbours, and term statistics.
Building, refreshing, saving and loading it are in assistant/index/snapshot.py."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from assistant.index.keyword import terms, tokenize

# Bound on |bf16 score - float32 score| for unit vectors: rounding the vectors, the query and
# the result to bf16 (2^-8 each, relative) plus float32 accumulation over 384 terms.
BF16_ERROR = 0.0125


@dataclass
class Filters:
    """Which chunks a search may return. Dates are compared as YYYYMMDD integers; a chunk
    without a date is excluded by any date bound."""

    since: int | None = None
    until: int | None = None
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    # Only the documents these chunks belong to (a follow-up looks in what the last answer cited).
    documents_of: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources or self.kinds or self.documents_of)


class SnapshotSearch:
    """The snapshot's data, one row a chunk in every column, and the searches over it."""

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

    def consistent(self) -> bool:
        """Every column has one row per id."""
        n = len(self.ids)
        rows = {len(self.dates), len(self.sources), len(self.kinds), len(self.docs), len(self.positions),
                len(self.pages), self.vectors.shape[0]}
        return rows == {n} and (n == 0 or int(self.bm25.scores["num_docs"]) == n)

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
        if filters.documents_of:
            rows = [self._row[c] for c in filters.documents_of if c in self._row]
            keep &= np.isin(self.docs, self.docs[rows]) if rows else False
        return keep

    def document(self, cid: str) -> int | None:
        """The code of the document chunk `cid` belongs to (None for an unknown chunk)."""
        row = self._row.get(cid)
        return None if row is None else int(self.docs[row])

    def date_of(self, cid: str) -> int:
        """Chunk `cid`'s document date as YYYYMMDD (0: undated or unknown)."""
        row = self._row.get(cid)
        return 0 if row is None else int(self.dates[row])

    @property
    def newest_year(self) -> int | None:
        """The year of the archive's newest dated document (None when nothing is dated)."""
        # A date in the future is a typo or an embargo, not what "newest" means for the note.
        this_year = date.today().year
        years = self.dates // 10000
        known = years[(years > 0) & (years <= this_year)]
        return int(known.max()) if len(known) else None

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

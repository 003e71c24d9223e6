"""Searching a snapshot of the store: filter masks over its metadata columns, BM25 keyword
search, exact dense search over its vectors, a chunk's neighbours, and term statistics.
Building, refreshing, saving and loading it are in assistant/index/snapshot.py."""

from __future__ import annotations

import mmap
import sys
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np

from assistant.index.keyword import terms, tokenize
from assistant.index.postings import KeywordIndex
from assistant.index.segment import Segment, combined
from assistant.index.stacked import RowIndex, Stacked


@dataclass
class Filters:
    """Which chunks a search may return. Dates are compared as YYYYMMDD integers; a chunk
    without a date is excluded by any date bound. `collections` names the archive collections
    readable (exactly, case and all): None for all of them, and an empty tuple for none, so
    that every search finds nothing."""

    since: int | None = None
    until: int | None = None
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    # Only the documents these chunks belong to (a follow-up looks in what the last answer cited).
    documents_of: tuple[str, ...] = ()
    collections: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources or self.kinds or self.documents_of) \
            or self.collections is not None

    @property
    def scope(self) -> Filters:
        """Only the collection restriction: what the archive is for this reader, whatever the
        question's own filters (the newest year, the documents a follow-up refers to)."""
        return Filters(collections=self.collections)


class SnapshotSearch:
    """The snapshot's data, one row a chunk in every column, and the searches over it. Its rows
    are its base segment's, then its tail's (assistant/index/segment.py); base rows `removed`
    since the base was saved stay in the columns but are never found (`live`)."""

    def __init__(self, generation: str, base: Segment, tail: Segment | None = None,
                 removed: np.ndarray | None = None) -> None:
        self.generation = generation
        self.base, self.tail = base, tail if tail is not None and len(tail) else None
        self.removed = removed if removed is not None and removed.any() else None
        self.parts = [self.base] + ([self.tail] if self.tail is not None else [])
        # Each row live or not (None: all are): a removed base row is masked, never rewritten.
        self.live = None if self.removed is None else \
            np.concatenate([~self.removed, np.ones(len(self.tail or ()), dtype=bool)])
        self._ids = self.base.ids + self.tail.ids if self.tail is not None else self.base.ids
        columns, names = combined([(p, None) for p in self.parts])
        self.dates, self.sources, self.kinds = columns["dates"], columns["sources"], columns["kinds"]
        self.source_names, self.kind_names = names["sources"], names["kinds"]
        self.collections, self.collection_names = columns["collections"], names["collections"]
        # Where each chunk sits: its document, its position in it, its page (0: none).
        self.docs, self.positions, self.pages = columns["docs"], columns["positions"], columns["pages"]
        self.doc_keys = names["doc_keys"]
        self.vectors: Any = self.base.vectors if self.tail is None else Stacked([p.vectors for p in self.parts])
        self.keywords = KeywordIndex([p.postings for p in self.parts], self.live)
        self._row = RowIndex(self.base, self.tail, self.removed)
        self.store_id = ""  # the Chroma collection's id it was made from (Store.identity)
        self.reused = 0  # rows a refresh kept

    @property
    def ids(self) -> list[str]:
        """The live chunks' ids, in row order. Not one per row where base rows are removed: a
        chunk's row is `_row[cid]`, and a mask has `rows` entries."""
        if self.live is None:
            return self._ids
        return [self._ids[int(r)] for r in np.flatnonzero(self.live)]

    @property
    def rows(self) -> int:
        """Rows in every column (a mask's length): the live chunks and the base's removed ones."""
        return len(self._ids)

    @property
    def size(self) -> int:
        """Live chunks."""
        return len(self._ids) if self.live is None else int(self.live.sum())

    @cached_property
    def _order(self) -> np.ndarray:
        """Live rows in document order."""
        rows = np.arange(len(self._ids)) if self.live is None else np.flatnonzero(self.live)
        return rows[np.lexsort((self.positions[rows], self.docs[rows]))]

    @cached_property
    def _rank(self) -> np.ndarray:
        rank = np.zeros(len(self._ids), dtype=np.int64)
        rank[self._order] = np.arange(len(self._order))
        return rank

    def mask(self, filters: Filters) -> np.ndarray:
        keep = np.ones(len(self._ids), dtype=bool) if self.live is None else self.live.copy()
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
        if filters.collections is not None:
            # A lookup table by code: as cheap as a date bound (one gather over the column).
            wanted = set(filters.collections)
            table = np.array([n in wanted for n in self.collection_names], dtype=bool)
            keep &= table[self.collections]
        return keep

    def facets(self, filters: Filters | None = None) -> tuple[list[str], list[str]]:
        """The sources and document types of the chunks `filters` keeps (all, without), sorted."""
        if not filters and self.live is None:
            return [s for s in self.source_names if s], [k for k in self.kind_names if k]
        keep = self.mask(filters or Filters())
        sources = np.unique(self.sources[keep])
        kinds = np.unique(self.kinds[keep])
        return ([n for n in (self.source_names[int(c)] for c in sources) if n],
                [n for n in (self.kind_names[int(c)] for c in kinds) if n])

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
        return self.newest_year_in(None)

    def newest_year_in(self, filters: Filters | None) -> int | None:
        """The newest year among the chunks `filters` keeps (a reader's collections): the
        archive as that reader sees it."""
        # A date in the future is a typo or an embargo, not what "newest" means for the note.
        this_year = date.today().year
        years = self.dates // 10000
        ok = (years > 0) & (years <= this_year)
        if filters or self.live is not None:
            ok &= self.mask(filters or Filters())
        known = years[ok]
        return int(known.max()) if len(known) else None

    def keyword(self, query: str, k: int, mask: np.ndarray | None = None,
                language: str | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) for the best k chunks that share a term with the query.
        `language`: the query's, when not English (its terms are made its language's way).

        Scored by bm25s, but the best k are chosen here among the chunks that score above 0
        (and that the mask keeps): bm25s's choice partitions all the scores, and NumPy's
        partition slows tenfold over an array mostly of one value, which is what a filter leaves
        (15 ms against 1 ms at 110k chunks). Equal scores come in chunk order."""
        if not self.size or k <= 0:
            return []
        from bm25s.tokenization import convert_tokenized_to_string_list

        if language not in (None, "en"):
            words = terms(query, language)
        else:
            tokens = tokenize([query])
            if not tokens.ids or not tokens.ids[0]:
                return []
            words = convert_tokenized_to_string_list(tokens)[0]
        scores = self.keywords.scores(words) if words else None
        if scores is None:
            return []
        return [(self._ids[int(r)], float(s)) for r, s in _best(scores, k, scores > 0 if mask is None
                                                                   else (scores > 0) & mask)]

    def dense(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Exact nearest neighbours (cosine: the vectors are normalised), among the chunks the
        mask keeps. One matrix-vector product over all chunks beats gathering the kept rows;
        the best are then chosen among the kept rows' scores alone (see `_best`).

        The first pass scores every chunk from a compact copy of the vectors (int8 or bf16,
        assistant/index/dense.py), each score with a bound on its error; any chunk whose
        upper bound reaches the k-th best lower bound may belong to the top k, and all of those
        are rescored in float32, which makes the result the float32 one. The product runs in
        torch, not numpy: the encoder's threads are torch's, and numpy's BLAS threads spinning
        beside them doubled the query embedding's time."""
        if not self.size or k <= 0:
            return []
        if mask is None:
            mask = self.live
        if "torch" not in sys.modules:  # a one-shot command on ONNX Runtime: importing torch costs 1 s
            return self._dense_numpy(np.asarray(vector, dtype=np.float32), k, mask)
        import torch

        from assistant.index.embedding import cpu_has_bf16

        query = torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32))
        scorers = [p.scorer(cpu_has_bf16()) for p in self.parts]
        for p in self.parts:
            _unmap_pages(p.vectors)
        approx, bound = _joined([s.scores(query) for s in scorers], self.parts)
        rows = np.flatnonzero(mask) if mask is not None else None  # None: every row
        scores = approx[rows] if rows is not None else approx
        k = min(k, scores.size)
        if k == 0:
            return []
        if not all(s.exact for s in scorers):
            error = bound[rows] if isinstance(bound, np.ndarray) and rows is not None else bound
            lowest = np.partition(scores - error, scores.size - k)[scores.size - k]
            near = np.flatnonzero(scores + error >= lowest)
            rows = rows[near] if rows is not None else near
            scores = (torch.from_numpy(np.asarray(self.vectors[rows], dtype=np.float32)) @ query).numpy()
            for p in self.parts:
                _unmap_pages(p.vectors)
        return self._hits(rows, _best(scores, k))

    def _dense_numpy(self, vector: np.ndarray, k: int, mask: np.ndarray | None) -> list[tuple[str, float]]:
        """`dense` in float32 NumPy, the result `dense` gives in torch (where nothing else runs
        torch's threads, NumPy's cannot fight them)."""
        rows = np.flatnonzero(mask) if mask is not None else None
        scores = np.asarray(self.vectors[rows] if rows is not None else self.vectors, dtype=np.float32) @ vector
        if scores.size == 0:
            return []
        return self._hits(rows, _best(scores, min(k, scores.size)))

    def _hits(self, rows: np.ndarray | None, best: list[tuple[int, float]]) -> list[tuple[str, float]]:
        """(chunk id, score) of the best, given as positions among `rows` (None: all rows)."""
        return [(self._ids[int(rows[i] if rows is not None else i)], float(s)) for i, s in best]

    def neighbours(self, cid: str, before: int, after: int) -> list[str]:
        """The chunk and up to `before`/`after` chunks around it, in document order, from the
        same document and the same page."""
        row = self._row.get(cid)
        if row is None:
            return [cid]
        rank = int(self._rank[row])
        lo, hi = max(rank - before, 0), min(rank + after, len(self._order) - 1)
        rows = self._order[lo:hi + 1]
        same = (self.docs[rows] == self.docs[row]) & (self.pages[rows] == self.pages[row])
        # contiguous around the chunk itself: stop at the first row of another document or page
        keep = [int(r) for r in rows[: rank - lo][::-1][np.cumprod(same[: rank - lo][::-1]) > 0][::-1]]
        keep.append(row)
        keep += [int(r) for r in rows[rank - lo + 1:][np.cumprod(same[rank - lo + 1:]) > 0]]
        return [self._ids[r] for r in keep]

    def kept(self, ids: list[str], mask: np.ndarray | None) -> list[str]:
        """The chunks of `ids` that this snapshot holds and the mask (None: all) keeps."""
        rows = [(i, self._row.get(i)) for i in ids]
        return [i for i, r in rows if r is not None and (mask is None or bool(mask[r]))]

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

    def coverage(self, query: str, cid: str, language: str | None = None) -> float:
        """The IDF-weighted share of the query's terms that chunk `cid` contains, read from the
        keyword index's postings (0 for an unknown chunk or a query without terms)."""
        row = self._row.get(cid)
        wanted = set(terms(query, language))
        if row is None or not wanted or not self.size:
            return 0.0
        total = found = 0.0
        for term in wanted:
            weight = self.idf(term)
            total += weight
            found += weight if self.keywords.holds(term, row) else 0.0
        return found / total if total else 0.0

    def idf(self, term: str) -> float:
        """Inverse document frequency over the live chunks; a term the archive lacks gets the maximum."""
        return self.keywords.term_idf(term)


def _joined(results: list[tuple[np.ndarray, np.ndarray | float]],
            parts: list[Segment]) -> tuple[np.ndarray, np.ndarray | float]:
    """The segments' approximate scores end to end, with their error bounds (one for all rows
    where every segment has the same)."""
    if len(results) == 1:
        return results[0]
    approx = np.concatenate([a for a, _ in results])
    bounds = [b for _, b in results]
    if all(not isinstance(b, np.ndarray) for b in bounds) and len({float(b) for b in bounds}) == 1:
        return approx, bounds[0]
    return approx, np.concatenate([np.broadcast_to(np.asarray(b, dtype=np.float32), (len(p),))
                                   for b, p in zip(bounds, parts)])


def _unmap_pages(vectors: Any) -> None:
    """Drop the pages of memory-mapped vectors from this process (the OS keeps them cached, and
    reads them back on the next touch): once the bf16 copy is made, the float32 vectors serve
    only rescoring, and left mapped they count in the reader's memory (1.5 GB at 1M chunks)."""
    mapped = getattr(vectors, "base", None)
    if isinstance(mapped, mmap.mmap) and not mapped.closed and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def _best(scores: np.ndarray, k: int, keep: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(index, score) of the k best scores (among those `keep` keeps), best first, equal ones in
    index order. The partition runs over the kept scores only: NumPy's slows about tenfold over
    an array mostly of one value (the -inf or 0 of what a filter leaves out)."""
    index = np.flatnonzero(keep) if keep is not None else None
    values = scores[index] if index is not None else scores
    top = np.argpartition(-values, k - 1)[:k] if values.size > k else np.arange(values.size)
    top = top[np.lexsort((top, -values[top]))]
    return [(int(index[i]) if index is not None else int(i), float(values[i])) for i in top]

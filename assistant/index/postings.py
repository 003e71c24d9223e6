"""The keyword index as term counts, scored with BM25 when a query comes: each snapshot segment
keeps, for every term, the rows that hold it and how often (`Postings`), and `KeywordIndex`
scores a query over all segments at once, with the statistics (chunk count, average length,
each term's document frequency) of the rows still live.

Scoring from counts, where bm25s stores each posting's finished score, is what lets a snapshot
grow by a segment and mask removed rows: a precomputed score holds the whole archive's
statistics, so one added file changed every score (a 4 s rebuild at 1M chunks). The formulas
are bm25s's defaults (Lucene's variant, k1 1.5, b 0.75), so the scores are the ones bm25s gives
over the same chunks (tests/test_snapshot.py checks it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

K1, B = 1.5, 0.75  # bm25s's defaults
TF_MAX = np.iinfo(np.uint16).max  # a term's count in one chunk, kept in 2 bytes (a chunk is ~250 words)


@dataclass
class Postings:
    """One segment's term counts: term t's rows are `rows[indptr[t]:indptr[t + 1]]` (ascending),
    with counts `tf` at the same places; `lengths[r]` is row r's number of terms."""

    vocab: list[str]
    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    lengths: np.ndarray
    term_id: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.term_id = {t: i for i, t in enumerate(self.vocab)}

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def build(cls, terms: Sequence[np.ndarray], vocab: Sequence[str]) -> Postings:
        """From each row's terms as ids into `vocab`; terms no row uses are left out."""
        from assistant.index.keyword import term_chunk_counts

        lengths = np.array([len(t) for t in terms], dtype=np.int64)
        term, row, tf = term_chunk_counts(terms, lengths, len(vocab))
        df = np.bincount(term, minlength=len(vocab))
        used = np.flatnonzero(df)
        return cls([vocab[int(i)] for i in used], np.concatenate(([0], np.cumsum(df[used]))).astype(np.int64),
                   row.astype(np.int32), np.minimum(tf, TF_MAX).astype(np.uint16), lengths)

    def counts(self, rows: np.ndarray | None = None) -> Any:
        """Rows by terms, as a SciPy CSR matrix of counts (these rows only, in this order)."""
        import scipy.sparse

        matrix = scipy.sparse.csc_matrix((self.tf, self.rows, self.indptr), shape=(len(self), len(self.vocab)))
        matrix = matrix.tocsr()
        return matrix[rows] if rows is not None else matrix

    @classmethod
    def stack(cls, parts: Sequence[tuple[Postings, np.ndarray | None]]) -> Postings:
        """The rows chosen of each part (ascending; None: all), one after the other, in one
        vocabulary. Each posting is placed straight where it goes (its term's block, after the
        earlier parts' postings of that term), in linear time and without a sparse matrix's
        copies: merging a 1M-chunk base took 17 s and a 10.4 GiB peak through SciPy's
        conversions, 8.5 s and 7.6 GiB so (benchmarks/merge.py)."""
        vocab: dict[str, int] = {}
        remaps = [np.array([vocab.setdefault(t, len(vocab)) for t in p.vocab], dtype=np.int32) for p, _ in parts]
        kept: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []  # each part's (local term, row, tf)
        counts = np.zeros((len(parts), len(vocab)), dtype=np.int64)  # kept postings per part and term
        offset = 0
        for i, ((p, rows), remap) in enumerate(zip(parts, remaps)):
            local = np.repeat(np.arange(len(p.vocab), dtype=np.int32), np.diff(p.indptr))
            if rows is None:
                new_rows, tf = p.rows + np.int32(offset), p.tf
                offset += len(p)
            else:
                rows = np.asarray(rows, dtype=np.int64)
                if len(rows) > 1 and not (np.diff(rows) > 0).all():
                    raise ValueError("rows must be ascending")
                at = np.full(len(p), -1, dtype=np.int32)
                at[rows] = np.arange(offset, offset + len(rows), dtype=np.int32)
                new_rows = at[p.rows]
                keep = new_rows >= 0
                local, new_rows, tf = local[keep], new_rows[keep], p.tf[keep]
                del keep
                offset += len(rows)
            counts[i, remap] = np.bincount(local, minlength=len(remap))
            kept.append((local, new_rows, tf))
        total = counts.sum(axis=0)
        indptr = np.concatenate(([0], np.cumsum(total))).astype(np.int64)
        out_rows = np.empty(int(indptr[-1]), dtype=np.int32)
        out_tf = np.empty(int(indptr[-1]), dtype=np.uint16)
        before = np.zeros(len(vocab), dtype=np.int64)  # earlier parts' postings of each term
        for i, remap in enumerate(remaps):
            local, new_rows, tf = kept[i]  # type: ignore[misc]
            kept[i] = None  # freed as soon as placed: at 1M chunks each part's arrays are gigabytes
            if len(local):
                per_local = np.bincount(local, minlength=len(remap))
                # Where each posting goes: its term's block, after earlier parts' postings of the
                # term, at its rank among this part's postings of the term.
                first = (indptr[:-1] + before)[remap] - (np.cumsum(per_local) - per_local)
                place = first[local]
                place += np.arange(len(local), dtype=np.int64)
                out_rows[place], out_tf[place] = new_rows, tf
                del place
            before += counts[i]
        used = total > 0  # terms only removed rows had leave: the vocabulary does not grow with churn
        words = list(vocab)
        if not used.all():
            words = [w for w, u in zip(words, used) if u]
            indptr = np.concatenate(([0], np.cumsum(total[used]))).astype(np.int64)
        lengths = np.concatenate([p.lengths if r is None else p.lengths[r] for p, r in parts]) if parts \
            else np.zeros(0, np.int64)
        return cls(words, indptr, out_rows, out_tf, lengths)

    def of(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, counts) of a term (empty where no row has it)."""
        t = self.term_id.get(term)
        if t is None:
            return _NO_ROWS, _NO_COUNTS
        lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.rows[lo:hi], self.tf[lo:hi]


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_COUNTS = np.zeros(0, dtype=np.uint16)


class KeywordIndex:
    """BM25 over segments' postings laid end to end (part i's row r is row offsets[i] + r),
    counting only the rows `live` keeps (None: all)."""

    def __init__(self, parts: Sequence[Postings], live: np.ndarray | None = None) -> None:
        self.parts = list(parts)
        sizes = [len(p) for p in self.parts]
        self.offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self.size = int(self.offsets[-1])
        self.live = live
        lengths = np.concatenate([p.lengths for p in self.parts]) if self.parts else np.zeros(0, np.int64)
        counted = lengths[live] if live is not None else lengths
        self.count = len(counted)  # N: the live rows
        average = float(counted.mean()) if len(counted) else 1.0
        # Each row's length term of BM25's denominator, once: a query reads it at its rows only.
        self.norm = (K1 * ((1 - B) + B * lengths / (average or 1.0))).astype(np.float32)
        # Each term's document frequency over the live rows, once: answers ask a term's IDF again
        # and again, and counting its live postings is linear in them.
        self._df: dict[str, int] = {}

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, counts) of a term over all parts, live rows only, rows ascending."""
        found = [(rows + int(off), tf) for p, off in zip(self.parts, self.offsets) for rows, tf in [p.of(term)]
                 if len(rows)]
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.uint16)
        rows = np.concatenate([f[0] for f in found]) if len(found) > 1 else found[0][0]
        tf = np.concatenate([f[1] for f in found]) if len(found) > 1 else found[0][1]
        if self.live is not None:
            keep = self.live[rows]
            rows, tf = rows[keep], tf[keep]
        return rows, tf

    def idf(self, df: int) -> float:
        return math.log(1 + (self.count - df + 0.5) / (df + 0.5))

    def df(self, term: str) -> int:
        found = self._df.get(term)
        if found is None:
            found = self._df[term] = len(self.postings(term)[0])
        return found

    def term_idf(self, term: str) -> float:
        return self.idf(self.df(term))

    def scores(self, words: Sequence[str]) -> np.ndarray | None:
        """Every row's BM25 score for these words (repeats count again, as in bm25s), float32;
        None where no live row holds any of them."""
        rows_all, weights = [], []
        for word in words:
            rows, tf = self.postings(word)
            if not len(rows):
                continue
            tf32 = tf.astype(np.float32)
            self._df[word] = len(rows)
            weights.append(np.float32(self.idf(len(rows))) * tf32 / (self.norm[rows] + tf32))
            rows_all.append(rows)
        if not rows_all:
            return None
        rows = np.concatenate(rows_all) if len(rows_all) > 1 else rows_all[0]
        weight = np.concatenate(weights) if len(weights) > 1 else weights[0]
        return np.bincount(rows, weights=weight, minlength=self.size).astype(np.float32)

    def holds(self, term: str, row: int) -> bool:
        """Whether live row `row` has the term: a binary search in its own part's postings."""
        if self.live is not None and not self.live[row]:
            return False
        part = int(np.searchsorted(self.offsets, row, side="right")) - 1
        rows, _ = self.parts[part].of(term)
        local = row - int(self.offsets[part])
        i = int(np.searchsorted(rows, local))
        return i < len(rows) and int(rows[i]) == local

"""A snapshot's base and tail segments seen as one: their vectors as one array-like (`Stacked`)
and their chunk ids as one row lookup (`RowIndex`), without copying either (1.5 GB of vectors
and a dict of 1M ids at a million chunks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.index.segment import Segment


class Stacked:
    """Arrays of rows laid end to end, read as one: by row, slice or array of rows."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = list(parts)
        self.offsets = np.concatenate(([0], np.cumsum([len(p) for p in self.parts]))).astype(np.int64)
        self.shape = (int(self.offsets[-1]), *self.parts[0].shape[1:])
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            row = int(key) + (self.shape[0] if key < 0 else 0)
            part = int(np.searchsorted(self.offsets, row, side="right")) - 1
            return np.asarray(self.parts[part][row - int(self.offsets[part])], dtype=np.float32)
        rows = np.arange(self.shape[0])[key] if isinstance(key, slice) else np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        out = np.empty((len(rows), *self.shape[1:]), dtype=np.float32)
        for part, lo, hi in zip(self.parts, self.offsets[:-1], self.offsets[1:]):
            inside = (rows >= lo) & (rows < hi)
            if inside.any():
                out[inside] = part[rows[inside] - lo]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = np.concatenate([np.asarray(p, dtype=np.float32) for p in self.parts])
        return whole if dtype is None else whole.astype(dtype)


class RowIndex:
    """chunk id -> row among the base's rows then the tail's, for live chunks only: a tail row
    first (a chunk read again after a change), else the base's unless removed."""

    def __init__(self, base: Segment, tail: Segment | None, removed: np.ndarray | None) -> None:
        self.base, self.tail, self.removed = base, tail, removed

    def get(self, cid: str, default: int | None = None) -> int | None:
        if self.tail is not None and (row := self.tail.row.get(cid)) is not None:
            return len(self.base) + row
        row = self.base.row.get(cid)
        if row is None or (self.removed is not None and self.removed[row]):
            return default
        return row

    def __getitem__(self, cid: str) -> int:
        row = self.get(cid)
        if row is None:
            raise KeyError(cid)
        return row

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and self.get(cid) is not None

"""A snapshot segment: a run of chunks saved together and never changed afterwards. Its columns
(metadata coded into its own name lists), float32 vectors and term counts (`Postings`), saved
in a folder of its own whose meta.json holds a CRC-32 of every file and of itself, so that damage
is noticed, not loaded. A snapshot is a large base segment and a small tail of what changed
since (assistant/index/snapshot.py); a segment's first dense search makes its compact copy
(`scorer`), which every later snapshot sharing the segment reuses.
"""

from __future__ import annotations

import json
import threading
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.dense import Scorer
from assistant.index.postings import Postings

COLUMNS = ("dates", "sources", "kinds", "docs", "positions", "pages", "collections")
NAMED = {"sources": "sources", "kinds": "kinds", "docs": "doc_keys", "collections": "collections"}
_SCORER_LOCK = threading.Lock()
BLOCK = 65_536  # rows of vectors copied at a time when segments are joined


@dataclass
class Segment:
    """Rows of chunks: `ids[r]`, `columns[c][r]` (codes into `names[NAMED[c]]` for the named
    columns), `vectors[r]`, and their terms in `postings`. `name`: its folder's, once saved."""

    ids: list[str]
    columns: dict[str, np.ndarray]
    names: dict[str, list[str]]
    vectors: np.ndarray
    postings: Postings
    name: str = ""
    _scorer: Scorer | None = field(default=None, repr=False)
    _row: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def row(self) -> dict[str, int]:
        """id -> row, made on first use (a dict of 1M ids takes 0.3 s: once a segment, not a load)."""
        if self._row is None:
            self._row = {c: i for i, c in enumerate(self.ids)}
        return self._row

    def scorer(self, bf16: bool) -> Scorer:
        with _SCORER_LOCK:
            if self._scorer is None:
                self._scorer = Scorer(self.vectors, bf16)
            return self._scorer

    def strings(self, column: str, rows: np.ndarray | None = None) -> list[str]:
        """A named column as its names (these rows only)."""
        codes = self.columns[column] if rows is None else self.columns[column][rows]
        names = self.names[NAMED[column]]
        return [names[int(c)] for c in codes]

    # -- saved ------------------------------------------------------------------------
    def save(self, parent: Path) -> str:
        """Written into a new folder under `parent`; its name, also kept in `name`."""
        name = f"segment-{uuid.uuid4().hex[:12]}"
        folder = parent / name
        folder.mkdir(parents=True)
        np.savez(folder / "columns.npz", **self.columns)  # type: ignore[arg-type]
        np.save(folder / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
        p = self.postings
        np.savez(folder / "postings.npz", indptr=p.indptr, rows=p.rows, tf=p.tf, lengths=p.lengths)
        (folder / "keys.json").write_text(json.dumps({"ids": self.ids, "vocab": p.vocab, "names": self.names}))
        meta = {"rows": len(self.ids), "files": {f.name: crc(f) for f in sorted(folder.iterdir())}}
        (folder / "meta.json").write_text(json.dumps({**meta, "check": crc_text(meta)}))
        # Read from the file from now on: mapped, its pages are the OS's cache, not this process's.
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self.name = name
        return name

    @classmethod
    def load(cls, folder: Path) -> Segment | None:
        """The segment saved in `folder` if it is whole, else None."""
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if not whole(folder, meta):
                return None
            keys = json.loads((folder / "keys.json").read_text())
            cols = dict(np.load(folder / "columns.npz"))
            saved = np.load(folder / "postings.npz")
            postings = Postings(keys["vocab"], saved["indptr"], saved["rows"], saved["tf"], saved["lengths"])
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
            segment = cls(keys["ids"], cols, keys["names"], vectors, postings, folder.name)
            return segment if segment.consistent() else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def consistent(self) -> bool:
        n = len(self.ids)
        p = self.postings
        sizes = {len(c) for c in self.columns.values()} | {self.vectors.shape[0], len(p.lengths)}
        codes = all(n == 0 or int(self.columns[c].min()) >= 0 and int(self.columns[c].max()) < len(self.names[k])
                    for c, k in NAMED.items())
        return set(self.columns) == set(COLUMNS) and sizes == {n} and codes and len(p.indptr) == len(p.vocab) + 1 \
            and int(p.indptr[-1]) == len(p.rows) == len(p.tf)


def build(ids: list[str], values: dict[str, Any], vectors: np.ndarray, postings: Postings) -> Segment:
    """A segment from its columns as values: numbers for the plain ones, strings for the named."""
    columns: dict[str, np.ndarray] = {}
    names: dict[str, list[str]] = {}
    for column in COLUMNS:
        if column in NAMED:
            strings: list[str] = values[column]
            unique = sorted(set(strings)) if column != "docs" else list(dict.fromkeys(strings))
            code = {s: i for i, s in enumerate(unique)}
            columns[column] = np.array([code[s] for s in strings], dtype=np.int32)
            names[NAMED[column]] = unique
        else:
            columns[column] = np.asarray(values[column])
    return Segment(ids, columns, names, vectors, postings)


def join(parts: Sequence[tuple[Segment, np.ndarray | None]]) -> Segment:
    """The rows chosen of each segment (None: all), one after the other, as one new segment.
    A segment taken whole and alone keeps its vectors as they are (memory-mapped, not copied)."""
    parts = [(s, r) for s, r in parts if (len(s) if r is None else len(r))] or list(parts[:1])
    ids: list[str] = []
    for s, rows in parts:
        ids += s.ids if rows is None else [s.ids[int(r)] for r in rows]
    columns, names = combined(parts)
    return Segment(ids, columns, names, _vectors(parts, len(ids)), Postings.stack([(s.postings, r) for s, r in parts]))


def _vectors(parts: Sequence[tuple[Segment, np.ndarray | None]], n: int) -> np.ndarray:
    """The chosen rows' vectors in one array, copied a block at a time (a base's are memory-mapped:
    gathered whole, then concatenated, they were two 1.5 GB copies at 1M chunks)."""
    if len(parts) == 1 and parts[0][1] is None:
        return parts[0][0].vectors
    out = np.empty((n, parts[0][0].vectors.shape[1]), dtype=np.float32)
    at = 0
    for s, rows in parts:
        chosen = np.arange(len(s)) if rows is None else rows
        for i in range(0, len(chosen), BLOCK):
            block = chosen[i:i + BLOCK]
            out[at:at + len(block)] = s.vectors[block]
            at += len(block)
    return out


def combined(parts: Sequence[tuple[Segment, np.ndarray | None]]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """The columns of the rows chosen of each segment, one after the other, the named ones coded
    into the union of the segments' names (sorted, but documents in order of appearance)."""
    if len(parts) == 1 and parts[0][1] is None:
        return parts[0][0].columns, parts[0][0].names
    columns: dict[str, np.ndarray] = {}
    names: dict[str, list[str]] = {}
    for column in COLUMNS:
        picked = [s.columns[column] if r is None else s.columns[column][r] for s, r in parts]
        if column not in NAMED:
            columns[column] = np.concatenate(picked) if len(picked) > 1 else picked[0]
            continue
        key = NAMED[column]
        union = list(dict.fromkeys(n for s, _ in parts for n in s.names[key]))
        if column != "docs":
            union.sort()
        code = {n: i for i, n in enumerate(union)}
        coded = [np.array([code[n] for n in s.names[key]], dtype=np.int32)[p] if len(s.names[key]) else p
                 for (s, _), p in zip(parts, picked)]
        codes = np.concatenate(coded).astype(np.int32)
        used = np.unique(codes)
        if len(used) < len(union):  # names only rows left out had (a source removed): not listed
            recode = np.full(len(union), -1, dtype=np.int32)
            recode[used] = np.arange(len(used), dtype=np.int32)
            codes, union = recode[codes], [union[int(i)] for i in used]
        columns[column], names[key] = codes, union
    return columns, names


def whole(folder: Path, meta: dict[str, Any]) -> bool:
    """meta.json is intact and every file it lists has the checksum it was saved with."""
    check = meta.pop("check", None)
    return check == crc_text(meta) and all(
        (folder / name).is_file() and crc(folder / name) == value for name, value in meta["files"].items())


def crc(path: Path) -> int:
    value = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            value = zlib.crc32(block, value)
    return value


def crc_text(meta: dict[str, Any]) -> int:
    return zlib.crc32(json.dumps(meta, sort_keys=True).encode())

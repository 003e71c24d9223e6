"""A snapshot's folder: saved whole (written aside, then swapped in), and read back only where
meta.json's CRC-32s of every file and of itself still match, so damage is noticed, not loaded."""

from __future__ import annotations

import json
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from assistant.index.meta import MAIN
from assistant.index.search import SnapshotSearch

S = TypeVar("S", bound=SnapshotSearch)


@dataclass
class Saved:
    """What a refresh reuses of a saved snapshot: its row of each chunk id, its coded columns
    and vectors, each row's keyword terms (ids into `vocab`) and the names the codes stand for."""

    row: dict[str, int]
    columns: dict[str, np.ndarray]
    vectors: np.ndarray
    terms: list[np.ndarray]
    vocab: list[str]
    doc_keys: list[str]
    source_names: list[str]
    kind_names: list[str]
    collection_names: list[str]


def save(snap: SnapshotSearch, folder: Path) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if snap.ids:
        snap.bm25.save(str(tmp / "bm25"), show_progress=False)
    np.savez(tmp / "columns.npz", dates=snap.dates, sources=snap.sources, kinds=snap.kinds, docs=snap.docs,
             positions=snap.positions, pages=snap.pages, collections=snap.collections)
    np.save(tmp / "vectors.npy", snap.vectors)
    if snap.terms is not None:
        lengths = np.array([len(t) for t in snap.terms], dtype=np.int64)
        flat = np.concatenate(snap.terms) if snap.terms else np.zeros(0, np.int32)
        np.savez(tmp / "terms.npz", flat=flat.astype(np.int32), offsets=np.concatenate(([0], np.cumsum(lengths))))
        (tmp / "keys.json").write_text(json.dumps({"vocab": snap.vocab, "doc_keys": snap.doc_keys}))
    # "collection" is the Chroma collection's id (the key predates archive collections).
    meta = {"generation": snap.generation, "collection": snap.store_id, "ids": snap.ids,
            "source_names": snap.source_names, "kind_names": snap.kind_names,
            "collection_names": snap.collection_names,
            "files": {str(f.relative_to(tmp)): _crc(f) for f in sorted(tmp.rglob("*")) if f.is_file()}}
    (tmp / "meta.json").write_text(json.dumps({**meta, "check": _crc_text(meta)}))
    # Swap in whole, so a reader never sees half a snapshot.
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def load(cls: type[S], folder: Path, generation: str) -> S | None:
    """The snapshot saved in `folder` if it is whole and of this generation, else None. One saved
    before archive collections (no column) is None too: the refresh that follows checks its
    chunks' collections against the manifest (`saved` reads it as all main)."""
    import bm25s

    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta["generation"] != generation or "collection_names" not in meta or not whole(folder, meta):
            return None
        cols = np.load(folder / "columns.npz")
        bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if meta["ids"] else bm25s.BM25()
        snap = cls(meta["generation"], meta["ids"], bm25, cols["dates"], cols["sources"], meta["source_names"],
                   cols["kinds"], meta["kind_names"], np.load(folder / "vectors.npy", mmap_mode="r"),
                   cols["docs"], cols["positions"], cols["pages"], cols["collections"], meta["collection_names"])
        return snap if snap.consistent() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged


def saved(folder: Path, store_id: str) -> Saved | None:
    """What a refresh reuses of the saved snapshot, whatever its generation: None where it is
    missing, damaged, from another Chroma collection or saved before snapshots kept their terms.
    One saved before archive collections reads as all main."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("collection") != store_id or "terms.npz" not in meta["files"] or not whole(folder, meta):
            return None
        keys = json.loads((folder / "keys.json").read_text())
        stored = np.load(folder / "terms.npz")
        flat, offsets = stored["flat"], stored["offsets"]
        cols = dict(np.load(folder / "columns.npz"))
        names = meta.get("collection_names")
        if names is None:
            cols["collections"], names = np.zeros(len(meta["ids"]), dtype=np.int32), [MAIN]
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        n = len(meta["ids"])
        if len(offsets) != n + 1 or vectors.shape[0] != n or any(len(c) != n for c in cols.values()) \
                or (n and not 0 <= int(cols["collections"].min()) <= int(cols["collections"].max()) < len(names)):
            return None
        return Saved({c: i for i, c in enumerate(meta["ids"])}, cols, vectors,
                     [flat[offsets[i]:offsets[i + 1]] for i in range(n)], keys["vocab"], keys["doc_keys"],
                     meta["source_names"], meta["kind_names"], names)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def whole(folder: Path, meta: dict[str, Any]) -> bool:
    """meta.json is intact and every file it lists has the checksum it was saved with."""
    check = meta.pop("check", None)
    return check == _crc_text(meta) and all(
        (folder / name).is_file() and _crc(folder / name) == crc for name, crc in meta["files"].items())


def _crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            crc = zlib.crc32(block, crc)
    return crc


def _crc_text(meta: dict[str, Any]) -> int:
    return zlib.crc32(json.dumps(meta, sort_keys=True).encode())

"""A local snapshot of the store for what Chroma does slowly or not at all: BM25 keyword
search, IDF statistics, and exact filtered search over metadata columns and vectors. This
module keeps it in line with the store; the searches are in assistant/index/search.py.

It is derived data, saved beside the store (or in the user cache for a Chroma server) with
the store generation it was built from. Ingestion refreshes it after every change; so does a
reader that finds it older than the store (say, after an interrupted ingestion).

A snapshot is a base segment and a tail (assistant/index/segment.py): a refresh writes what
changed as a new tail, with the base rows it replaces or removes masked, and leaves the base as
it is, so adding a file costs the file, not the archive. Once the tail and the masked rows pass
a share of the base, they are merged into a new base. Chunk ids derive from their document's
content and metadata, so a chunk under the same id is the same chunk; what changed is known
from the ingestion's own journal where it made every change since the snapshot
(assistant/index/journal.py), else by listing the store's ids. Where the saved snapshot is
missing, damaged or from another collection, it is rebuilt from the whole store.

A move to another archive collection changes chunks' metadata and keeps their ids, so a refresh
that lists also re-reads the chunks of every file whose manifest record is marked as moving, or
names another collection than the snapshot's rows do (a move writes the record's target before
any chunk changes: `Store.move_files`); an ingestion's journal has them already.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index import snapshot_files
from assistant.index.locks import saving
from assistant.index.manifest import MOVING, REMOVING, collection_of
from assistant.index.places import local_cache_dir
from assistant.index.rows import Chunks
from assistant.index.search import Filters, SnapshotSearch
from assistant.index.segment import Segment, join
from assistant.index.snapshot_build import read_segment
from assistant.index.snapshot_files import Parts
from assistant.index.store import Store

__all__ = ["Filters", "Snapshot"]

# Held while a snapshot is built or loaded, so that an ingestion in this process (the chat's
# uploads) and a reader never write the same folder at once. Re-entrant: load() rebuilds.
_LOCK = threading.RLock()
# The tail and the masked base rows are merged into a new base once they pass this share of the
# base, or this many rows in a small store: a refresh rewrites the tail, so it must stay small.
TAIL_SHARE = 0.05
TAIL_MIN = 2000


@dataclass
class Changes:
    """What a refresh applies: chunks read again (new, or changed under their id), and ids gone."""

    fresh: Chunks
    gone: set[str]


class Snapshot(SnapshotSearch):
    """The snapshot of a store: `load` it (refreshed where stale), `refresh` it after a change,
    `rebuild` it from the whole store. Each saves what it makes."""

    @staticmethod
    def folder(store: Store) -> Path:
        return local_cache_dir(store.settings) / "snapshot"

    @classmethod
    def rebuild(cls, store: Store) -> Snapshot:
        """A snapshot of the whole store, read from Chroma, saved."""
        with _LOCK:
            return cls._rebuild(store)

    @classmethod
    def _rebuild(cls, store: Store) -> Snapshot:
        generation = store.generation
        snap = cls(generation, read_segment(store.everything(), _dim(store)))
        return snap._saved(store)

    @classmethod
    def refresh(cls, store: Store) -> Snapshot:
        """The saved snapshot brought in line with the store, saved: chunks it holds are
        reused, only the changed ones are read from Chroma. A full rebuild where no saved
        snapshot of this collection can be read, or where most of the store changed."""
        with _LOCK:
            generation = store.generation  # before reading: a later change makes this stale
            parts = snapshot_files.load(cls.folder(store), store_id=store.identity)
            if parts is None:
                return cls._rebuild(store)
            old = cls(parts.generation, parts.base, parts.tail, parts.removed)
            changes = _journalled(store, old) or _listed(store, old)
            if changes is None:
                return cls._rebuild(store)
            snap = old._changed(generation, changes)
            return snap._saved(store)

    def _changed(self, generation: str, changes: Changes) -> Snapshot:
        """This snapshot with the changes applied: replaced and removed base rows masked, the
        tail written again with the new rows, and both merged into the base when too large."""
        replaced = changes.gone | set(changes.fresh.ids)
        removed = np.zeros(len(self.base), dtype=bool) if self.removed is None else self.removed.copy()
        dropped = 0
        for cid in replaced:
            row = self.base.row.get(cid)
            if row is not None and not removed[row]:
                removed[row] = True
                dropped += 1
        tail = self.tail
        pieces: list[tuple[Segment, np.ndarray | None]] = []
        if tail is not None:
            keep = np.array([i for i, c in enumerate(tail.ids) if c not in replaced], dtype=np.int64)
            dropped += len(tail) - len(keep)
            pieces.append((tail, keep))
        if len(changes.fresh):
            pieces.append((read_segment(changes.fresh, self.base.vectors.shape[1]), None))
        new_tail = join(pieces) if any(len(s) if r is None else len(r) for s, r in pieces) else None
        base = self.base
        if (len(new_tail) if new_tail is not None else 0) + int(removed.sum()) > max(TAIL_MIN, TAIL_SHARE * len(base)):
            kept = None if not removed.any() else np.flatnonzero(~removed)
            base = join([(base, kept)] + ([(new_tail, None)] if new_tail is not None else []))
            new_tail, removed = None, np.zeros(len(base), dtype=bool)
        snap = type(self)(generation, base, new_tail, removed)
        snap.store_id = self.store_id
        snap.reused = self.size - dropped
        return snap

    def _saved(self, store: Store) -> Snapshot:
        """Saved, unless another process is writing the store: it saves the next snapshot."""
        self.store_id = store.identity
        with saving(store.settings) as free:
            if free:
                self.save(self.folder(store))
        store.journal.restart(self.generation)
        return self

    def save(self, folder: Path) -> None:
        snapshot_files.save(Parts(self.generation, self.store_id, self.base, self.tail, self.removed), folder)

    @classmethod
    def load(cls, store: Store) -> Snapshot:
        """The saved snapshot if it matches the store's generation, else refreshed."""
        with _LOCK:
            # Twice: a writer in another process may have swapped the snapshot while it was read.
            parts = snapshot_files.load(cls.folder(store), store.generation) or \
                snapshot_files.load(cls.folder(store), store.generation)
            if parts is None:
                return cls.refresh(store)
            snap = cls(parts.generation, parts.base, parts.tail, parts.removed)
            snap.store_id = parts.store_id
            return snap


def _dim(store: Store) -> int:
    return int(store.info.get("embed_dim", 0) or 0)


def _journalled(store: Store, old: SnapshotSearch) -> Changes | None:
    """The changes the store's own journal knows of, where it knows them all (a local store)."""
    if store.settings.chroma_url:
        return None  # writers on other machines take no lock of ours: listed
    changed = store.journal.since(old.generation, store.refresh_generation())
    if changed is None or len(changed) > max(old.size, 1) // 2:
        return None
    present = [c for c, there in changed.items() if there]
    fresh = store.fetch(present)
    found = set(fresh.ids)
    return Changes(fresh, {c for c in changed if c not in found})


def _listed(store: Store, old: SnapshotSearch) -> Changes | None:
    """The changes found by listing the store's ids against the snapshot's; None where most
    chunks would be read again (reading chunks by id costs twice as much a chunk as reading
    them all in pages: a rebuild is cheaper)."""
    moved = _moved_rows(old, store.file_records())
    live = old.ids
    known = set(live) - {old._ids[int(r)] for r in np.flatnonzero(moved)}
    listed = store.all_ids()
    unknown = [c for c in listed if c not in known]
    if len(unknown) > len(listed) // 2:
        return None
    fresh = store.fetch(unknown)
    return Changes(fresh, set(live) - set(listed))


def _moved_rows(old: SnapshotSearch, records: dict[str, dict[str, Any]]) -> np.ndarray:
    """The live rows whose chunks may have changed collection since: those of a file marked as
    moving, or whose record names a collection other than the row's. Files without a live
    record are left alone (new chunks, or chunks being removed: their ids tell)."""
    code = {n: i for i, n in enumerate(old.collection_names)}
    expected = np.full(len(old.doc_keys), -2, dtype=np.int64)  # -2: no opinion
    for d, key in enumerate(old.doc_keys):
        record = records.get(key.split("\0", 1)[0])
        if record is not None and not record.get(REMOVING):
            expected[d] = -1 if record.get(MOVING) else code.get(collection_of(record), -1)
    wanted = expected[old.docs] if len(expected) else np.zeros(0, dtype=np.int64)
    moved = (wanted != -2) & (wanted != old.collections)
    return moved if old.live is None else moved & old.live

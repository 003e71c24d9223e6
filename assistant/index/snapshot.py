"""A local snapshot of the store for what Chroma does slowly or not at all: BM25 keyword
search, IDF statistics, and exact filtered search over metadata columns and vectors. This
module keeps it in line with the store; the searches are in assistant/index/search.py.

It is derived data, saved beside the store (or in the user cache for a Chroma server) with
the store generation it was built from. Ingestion refreshes it after every change; so does a
reader that finds it older than the store (say, after an interrupted ingestion). A refresh
asks Chroma, the source of truth, only for the list of chunk ids and for the chunks the saved
snapshot lacks, and reuses the rest: chunk ids derive from their document's content and
metadata, so a chunk under the same id is the same chunk. Each chunk's keyword terms are
saved for that, since BM25's statistics change with every chunk added or removed. Where the
saved snapshot is missing, damaged or from another collection, it is rebuilt from the whole
store. meta.json records a CRC-32 of every file and of itself, so a damaged file is noticed
instead of loaded (assistant/index/snapshot_files.py).

A move to another archive collection changes chunks' metadata and keeps their ids, so a refresh
also re-reads the chunks of every file whose manifest record is marked as moving, or names
another collection than the snapshot's rows do (a move writes the record's target before any
chunk changes: `Store.move_files`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index import snapshot_files
from assistant.index.locks import saving
from assistant.index.manifest import MOVING, REMOVING, collection_of
from assistant.index.places import local_cache_dir
from assistant.index.search import Filters, SnapshotSearch
from assistant.index.snapshot_build import Rows, assemble, chunk_terms
from assistant.index.snapshot_files import Saved
from assistant.index.store import Store

__all__ = ["Filters", "Snapshot"]

# Held while a snapshot is built or loaded, so that an ingestion in this process (the chat's
# uploads) and a reader never write the same folder at once. Re-entrant: load() rebuilds.
_LOCK = threading.RLock()


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
        got = store.everything()
        snap = assemble(cls, generation, store.identity, got.ids, Rows.read(got.metas, got.vectors),
                        *chunk_terms(got.texts, got.metas))
        snap._save(store)
        return snap

    @classmethod
    def refresh(cls, store: Store) -> Snapshot:
        """The saved snapshot brought in line with the store, saved: chunks it holds are
        reused, only the others are read from Chroma. A full rebuild where no saved snapshot
        of this collection can be read, or where it lacks most of the store's chunks."""
        with _LOCK:
            generation = store.generation  # before reading: a later change makes this stale
            old = snapshot_files.saved(cls.folder(store), store.identity)
            if old is None:
                return cls._rebuild(store)
            moved = _moved_rows(old, store.file_records())
            known = {c: row for c, row in old.row.items() if not moved[row]} if moved.any() else old.row
            listed = store.all_ids()
            unknown = [c for c in listed if c not in known]
            if len(unknown) > len(listed) // 2:
                # Reading chunks by id costs twice as much a chunk as reading them all in pages.
                return cls._rebuild(store)
            fresh = store.fetch(unknown)
            found = set(fresh.ids)  # less any chunk deleted since the listing
            ids = [c for c in listed if c in known or c in found]
            kept = np.array([known.get(c, -1) for c in ids], dtype=np.int64)
            is_old = kept >= 0
            new = Rows.read(fresh.metas, fresh.vectors, dim=old.vectors.shape[1])
            rows = Rows.merge(is_old, Rows.saved(old, kept[is_old]), new)
            new_terms, vocab = chunk_terms(fresh.texts, fresh.metas, old.vocab)
            unread = iter(new_terms)
            terms = [old.terms[row] if row >= 0 else next(unread) for row in kept]
            snap = assemble(cls, generation, store.identity, ids, rows, terms, vocab)
            snap.reused = int(is_old.sum())
            snap._save(store)
            return snap

    def _save(self, store: Store) -> None:
        """Saved, unless another process is writing the store: it saves the next snapshot."""
        with saving(store.settings) as free:
            if free:
                self.save(self.folder(store))

    def save(self, folder: Path) -> None:
        snapshot_files.save(self, folder)

    @classmethod
    def load(cls, store: Store) -> Snapshot:
        """The saved snapshot if it matches the store's generation, else refreshed."""
        with _LOCK:
            snap = snapshot_files.load(cls, cls.folder(store), store.generation)
            return snap if snap is not None else cls.refresh(store)


def _moved_rows(old: Saved, records: dict[str, dict[str, Any]]) -> np.ndarray:
    """The saved rows whose chunks may have changed collection since: those of a file marked as
    moving, or whose record names a collection other than the row's. Files without a live
    record are left alone (new chunks, or chunks being removed: their ids tell)."""
    code = {n: i for i, n in enumerate(old.collection_names)}
    expected = np.full(len(old.doc_keys), -2, dtype=np.int64)  # -2: no opinion
    for d, key in enumerate(old.doc_keys):
        record = records.get(key.split("\0", 1)[0])
        if record is not None and not record.get(REMOVING):
            expected[d] = -1 if record.get(MOVING) else code.get(collection_of(record), -1)
    wanted = expected[old.columns["docs"]] if len(expected) else np.zeros(0, dtype=np.int64)
    return (wanted != -2) & (wanted != old.columns["collections"])

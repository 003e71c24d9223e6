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
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.index import snapshot_files
from assistant.index.locks import saving
from assistant.index.search import Filters, SnapshotSearch
from assistant.index.snapshot_build import Rows, assemble, chunk_terms
from assistant.index.store import Store, local_cache_dir

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
            known = old.row
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

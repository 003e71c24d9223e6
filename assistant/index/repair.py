"""Repair of a local store's vector index, cut short by a process killed while Chroma wrote it.

Chroma (1.5) rewrites its HNSW files and their id map in place while it takes writes (every
`sync_threshold` records, 1,000 by default). A process killed in that moment (SIGKILL, an OOM
kill, a power cut) leaves them cut short, and every later read fails: the crash test met an
id map emptied by a kill ("Error deserializing pickle file"). Nothing is lost, though: the
database (chroma.sqlite3, whose writes SQLite's journal makes all or nothing) holds every
record, and the index is derived from it plus the vectors. So opening the store repairs it,
under the write lock (no ingestion writes meanwhile):

1. mark the repair (`repairing.json`, naming the collections), so one cut short is redone
   (from step 2: its collections' part-built segments are deleted too);
2. delete the damaged segment folders: Chroma starts an empty index in their place;
3. give every record of those collections its vector again, an upsert of the vector alone
   (texts and metadata stay as stored). A chunk's vector comes from the keyword snapshot
   where it holds that chunk id (ids derive from the chunk's content: the same id is the same
   text), else the store's model embeds the chunk again, as ingestion did;
4. drop the mark.
A damaged database is not repaired here: that stays a StoreError saying to rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from assistant.errors import AssistantError, DamagedIndexError, StoreBusyError, StoreError
from assistant.index import manifest, snapshot_files
from assistant.index.chroma import client, forget_client
from assistant.index.integrity import REPAIRING, segment_problems
from assistant.index.locks import held_by_another_thread, writing
from assistant.index.meta import embed_input
from assistant.index.rows import stored_chunks
from assistant.settings import Settings

T = TypeVar("T")
PAGE = 2000  # records read, and vectors written, at a time (Chroma's write limit is ~5,400)
SHOWN_FROM = 20_000  # chunks from which a repair shows its progress


@dataclass
class Repaired:
    """What a repair did: the Chroma collections re-indexed, their records, and where the chunk
    vectors came from (the snapshot, or the model again)."""

    collections: list[str]
    records: int = 0
    from_snapshot: int = 0
    embedded: int = 0
    seconds: float = 0.0
    segments: list[str] = field(default_factory=list)


def opened(settings: Settings, open_store: Callable[[], T]) -> T:
    """`open_store()`, after repairing the local store's vector index if it is damaged."""
    try:
        return open_store()
    except DamagedIndexError as damage:
        if settings.chroma_url:
            raise
        repair(settings, damage)
    return open_store()


def repair(settings: Settings, damage: DamagedIndexError) -> Repaired:
    """Re-index what `damage` names (see the module docstring). StoreError where it cannot."""
    folder = settings.store / "chroma"
    if held_by_another_thread(settings):  # its files may be mid-write, not damaged: not ours to repair
        raise StoreBusyError(f"{damage} (Another thread of this process is writing it: try again once "
                             f"it has finished.)")
    if not os.access(folder, os.W_OK):
        raise StoreError(f"{damage} (Opening it where it can be written repairs it; this process cannot "
                         f"write {folder}.)")
    with writing(settings, "a repair of its vector index"):
        start = time.perf_counter()
        owners = _vector_segments(folder / "chroma.sqlite3", damage)
        damaged = {name for name, problems in segment_problems(folder).items() if problems}
        marked = set(_marked(settings.store))
        # A repair cut short leaves its collections' indexes part-built, in whatever state the
        # kill found Chroma writing them (checks cannot tell every such state from a whole
        # index): they are emptied again, as the first try did.
        redo = {segment for segment, name in owners.items() if name in marked}
        segments = sorted(owners if damage.segments is None else damaged | redo | set(damage.segments))
        names = sorted(marked | {owners.get(s, "") for s in segments})
        if "" in names:  # a folder the database does not name: every collection, to be sure
            names = sorted(set(owners.values()))
        _mark(settings.store, names)
        print(f"Repairing the vector index of the store at {settings.store} (a write to it was cut "
              f"short): {', '.join(names)} ...", file=sys.stderr, flush=True)
        for segment in segments:
            shutil.rmtree(folder / segment, ignore_errors=True)
        forget_client(str(folder))
        done = Repaired(names, segments=segments)
        try:
            chroma = client(settings, repairing=True)
            for name in names:
                _reindex(settings, chroma.get_collection(name), name, done)
        except AssistantError:
            raise
        except Exception as e:
            raise StoreError(f"The store at {settings.store} is damaged and could not be repaired "
                             f"({' '.join(str(e).split())[:300]}). Rebuild it: ingest into a new --store "
                             f"(or delete this one).") from e
        (settings.store / REPAIRING).unlink()
        done.seconds = time.perf_counter() - start
    print(f"Repaired: {done.records:,} records given their vectors again ({done.from_snapshot:,} from the "
          f"keyword snapshot, {done.embedded:,} embedded again) in {done.seconds:.1f} s.",
          file=sys.stderr, flush=True)
    return done


def _vector_segments(database: Path, damage: DamagedIndexError) -> dict[str, str]:
    """Vector segment folder name -> the Chroma collection it indexes, from the database."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT s.id, c.name FROM segments s JOIN collections c ON c.id = s.collection "
                              "WHERE s.scope = 'VECTOR'").fetchall()
    except sqlite3.Error as e:
        raise StoreError(f"{damage} (Its database cannot be read either: {e}.)") from None
    return {str(segment): str(name) for segment, name in rows}


def _marked(store: Path) -> list[str]:
    try:
        return list(json.loads((store / REPAIRING).read_text())["collections"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _mark(store: Path, names: list[str]) -> None:
    """Written whole (a temporary file renamed over it) before anything is deleted."""
    tmp = store / (REPAIRING + ".tmp")
    tmp.write_text(json.dumps({"collections": names, "since": time.time()}))
    tmp.replace(store / REPAIRING)


def _reindex(settings: Settings, collection: Any, name: str, done: Repaired) -> None:
    """Every record of `collection` upserted with its vector alone."""
    ids = list(collection.get(include=[])["ids"])
    if name == manifest.collection_name(settings):
        for i in range(0, len(ids), PAGE):
            manifest.reindex(collection, ids[i:i + PAGE])
        done.records += len(ids)
        return
    from tqdm import tqdm

    vectors = _Vectors(settings, collection)
    # A large store takes minutes (Chroma builds its index again): shown, as ingestion is.
    with tqdm(total=len(ids), unit="chunk", disable=len(ids) < SHOWN_FROM, file=sys.stderr) as bar:
        for i in range(0, len(ids), PAGE):
            page = ids[i:i + PAGE]
            collection.upsert(ids=page, embeddings=vectors.of(collection, page, done))
            done.records += len(page)
            bar.update(len(page))


class _Vectors:
    """Chunk vectors for a repair: the saved snapshot's, else embedded again by the store's model."""

    def __init__(self, settings: Settings, collection: Any) -> None:
        info = dict(collection.metadata or {})
        self.model = str(info.get("embed_model") or settings.embed_model)
        self.settings = settings
        self.saved = snapshot_files.load(settings.store / "snapshot", store_id=str(collection.id))
        self.embedder: Any = None

    def of(self, collection: Any, ids: list[str], done: Repaired) -> np.ndarray:
        saved = {c: v for c in ids if self.saved is not None and (v := self.saved.vector_of(c)) is not None}
        missing = [c for c in ids if c not in saved]
        fresh: dict[str, np.ndarray] = {}
        if missing:
            chunks = stored_chunks(collection.get(ids=missing, include=["documents", "metadatas"]))
            texts = [embed_input(chunks[c].meta.title, chunks[c].text) for c in missing]
            fresh = dict(zip(missing, self._encode(texts)))
            done.embedded += len(missing)
        done.from_snapshot += len(ids) - len(missing)
        return np.stack([saved[c] if c in saved else fresh[c] for c in ids])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.embedder is None:
            from assistant.index.embedding import load_embedder

            self.embedder = load_embedder(self.model, self.settings.embed_dtype, self.settings.device)
        return np.asarray(self.embedder.encode(texts, self.settings.embed_batch_size), np.float32)

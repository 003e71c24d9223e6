"""The Chroma store shared by both paths: chunk vectors, a manifest of ingested files, build info.

Chunks live in one collection whose metadata records what built it (embedding model,
chunking settings), so a mismatched reader or writer fails with the fix instead of
returning wrong neighbours. A second tiny collection is the manifest (assistant/index/manifest.py):
one record per ingested file with its content hash, written only after all of the file's
chunks are in, which is what makes re-runs free and interrupted runs resumable.

Every Chroma call goes through `guarded` (assistant/index/chroma.py), which turns the failures
a user can cause into a StoreError that says what to do. An open store is also checked
(`verify`) before it is used, so that a damaged index is repaired (assistant/index/repair.py)
rather than answering wrongly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.errors import DamagedIndexError, NoStoreError, StoreError, StoreMismatchError
from assistant.index import manifest
from assistant.index.chroma import client, guarded
from assistant.index.journal import Journal
from assistant.index.manifest import REMOVING
from assistant.index.meta import COLLECTION, FILE, MAIN, TEXT, ChunkMeta
from assistant.index.repair import opened
from assistant.index.rows import Chunks, StoredChunk, stored_chunks
from assistant.settings import Settings

SCHEMA = 1
# Chroma rejects larger writes (its max batch size is about 5,400 records).
WRITE_BATCH = 2000
PAGE = 5000  # chunks read at a time when reading everything
FILE_BATCH = 200  # files removed together
ID_PAGE = 50_000  # ids alone read at a time
PROBES = 4  # stored chunks that must find themselves when a store is opened (and the newest)
PROBE = "probe"  # the collection's metadata key of the newest chunk written (`verify` probes it)
_WITH_VECTORS = ["documents", "metadatas", "embeddings"]


def build_info(settings: Settings, dim: int) -> dict[str, Any]:
    return {"schema": SCHEMA, "embed_model": settings.embed_model, "embed_dim": dim,
            "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap}


class Store:
    """Chunks plus manifest in Chroma. Open with `Store.open` (read) or `Store.create` (write).
    `chunks` and `files` are the two Chroma collections."""

    def __init__(self, settings: Settings, client: Any, chunks: Any, files: Any) -> None:
        self.settings = settings
        self.client = client
        self.chunks = chunks
        self.files = files
        self._newest = ""  # the last chunk this process wrote (see `bump_generation`)
        self.journal = Journal()  # what this object changed, for the snapshot's refresh

    # -- opening -----------------------------------------------------------------------
    @property
    def where(self) -> str:
        return self.settings.chroma_url or str(self.settings.store)

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open an existing store for reading; only the embedding model has to agree. A local
        store's vector index that a killed write cut short is repaired first (repair.py)."""
        return opened(settings, lambda: cls._open(settings))

    @classmethod
    def create(cls, settings: Settings, dim: int) -> Store:
        """Open or create a store for writing; model and chunking must both agree (and the
        vector index is repaired first, as for `open`)."""
        return opened(settings, lambda: cls._create(settings, dim))

    @classmethod
    @guarded
    def _open(cls, settings: Settings) -> Store:
        if not settings.chroma_url and not (settings.store / "chroma").is_dir():
            raise NoStoreError(f"No store at {settings.store}. Build one with "
                               f"`assistant ingest PATH --store {settings.store}`.")
        chroma = client(settings)
        try:
            chunks = chroma.get_collection(settings.collection)
            files = chroma.get_collection(manifest.collection_name(settings))
        except Exception as e:
            if settings.chroma_url and "not exist" not in str(e).lower():
                raise StoreError(f"Cannot read the Chroma server at {settings.chroma_url}: {e}") from None
            raise NoStoreError(f"{settings.chroma_url or settings.store} holds no archive yet. Build one "
                               f"with `assistant ingest PATH`.") from None
        store = cls(settings, chroma, chunks, files)
        store.check(write=False)
        store.verify()
        return store

    @classmethod
    @guarded
    def _create(cls, settings: Settings, dim: int) -> Store:
        if not settings.chroma_url:
            settings.store.mkdir(parents=True, exist_ok=True)
        chroma = client(settings)
        info = build_info(settings, dim)
        try:
            chunks = chroma.get_or_create_collection(
                settings.collection, metadata={**info, "generation": uuid.uuid4().hex},
                configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
            files = chroma.get_or_create_collection(manifest.collection_name(settings), embedding_function=None)
        except Exception as e:
            where = settings.chroma_url or settings.store
            raise StoreError(f"Cannot open the store at {where}: {e}") from None
        store = cls(settings, chroma, chunks, files)
        store.check(write=True)
        store.verify()
        return store

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.chunks.metadata or {})

    def check(self, write: bool) -> None:
        info = self.info
        keys = ("schema", "embed_model", "chunk_tokens", "chunk_overlap") if write else ("embed_model",)
        wanted = build_info(self.settings, int(info.get("embed_dim", 0)))
        diffs = [f"{k}={info.get(k)!r} (you asked for {wanted[k]!r})" for k in keys
                 if info.get(k) != wanted[k]]
        if info.get("embed_model") != wanted["embed_model"]:
            # A store's vectors are one model's: another model's question vectors are meaningless there.
            raise StoreMismatchError(
                f"The store at {self.where} was built with the embedding model {info.get('embed_model')!r}, "
                f"and can be searched only with it (you asked for {wanted['embed_model']!r}: its vectors "
                f"are not comparable). Set embed_model = {info.get('embed_model')!r}, or build a store for "
                f"{wanted['embed_model']!r}: ingest into a new --store.")
        if diffs:
            raise StoreMismatchError(
                f"The store at {self.where} was built with {', '.join(diffs)}. Use the settings it "
                f"was built with, or rebuild it: ingest into a new --store (or delete this one).")

    @guarded
    def verify(self) -> None:
        """A few stored chunks must find themselves by their own vectors: a damaged index fails
        here (or errors) instead of answering wrongly. The oldest (the first in storage order)
        and the newest a writer recorded (`PROBE`), which an index cut short lacks first. Not
        chunks spread by offset: a get at an offset reads the rows before it (at 1M chunks,
        three such probes took 6 to 24 s of every process's opening)."""
        n = self.count()
        if not n:
            return
        got = self.chunks.get(limit=PROBES, include=["embeddings"])
        ids, vectors = list(got["ids"]), list(got["embeddings"])
        newest = self.info.get(PROBE)
        if isinstance(newest, str) and newest not in ids:
            more = self.chunks.get(ids=[newest], include=["embeddings"])  # gone since: nothing
            ids, vectors = ids + list(more["ids"]), vectors + list(more["embeddings"])
        for cid, vector in zip(ids, vectors):
            found = self.chunks.query(query_embeddings=[vector], n_results=min(10, n), include=["distances"])
            near, distances = found["ids"][0], found["distances"][0]
            # Found itself, or (among more than ten identical chunks) a vector identical to it.
            if cid not in near and not (distances and distances[0] < 1e-4):
                raise DamagedIndexError(f"The store at {self.where} is damaged: its vector index does not "
                                        f"find the chunks it holds. Rebuild it: ingest into a new --store "
                                        f"(or delete this one).")

    # -- generation: bumped before any change, so derived indexes can tell they are stale --
    @property
    def generation(self) -> str:
        return str(self.info.get("generation", ""))

    @guarded
    def refresh_generation(self) -> str:
        """The generation as stored now (another process may have ingested since we opened)."""
        self.chunks = self.client.get_collection(self.settings.collection)
        return self.generation

    @guarded
    def bump_generation(self) -> str:
        found = self.refresh_generation()  # another writer's bump breaks the journal's chain
        gen = uuid.uuid4().hex
        meta = {k: v for k, v in self.info.items() if not k.startswith("hnsw:")}
        if self._newest:  # for `verify`, from a run's last bump, after its writes
            meta[PROBE] = self._newest
        self.chunks.modify(metadata={**meta, "generation": gen, "updated": time.time()})
        self.journal.bumped(found, gen)
        return gen

    # -- chunks ----------------------------------------------------------------------
    @guarded
    def count(self) -> int:
        return int(self.chunks.count())

    @guarded
    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str],
               metas: Sequence[ChunkMeta]) -> None:
        self.journal.wrote(ids)
        for i in range(0, len(ids), WRITE_BATCH):
            j = i + WRITE_BATCH
            self.chunks.upsert(ids=list(ids[i:j]), embeddings=vectors[i:j],
                               metadatas=[{**m.to_metadata(), TEXT: t} for m, t in zip(metas[i:j], texts[i:j])])
        if len(ids):
            self._newest = str(ids[-1])

    @guarded
    def delete(self, ids: Sequence[str]) -> None:
        self.journal.deleted(ids)  # first: a delete cut short leaves the journal with more, not less
        for i in range(0, len(ids), WRITE_BATCH):
            self.chunks.delete(ids=list(ids[i:i + WRITE_BATCH]))

    @guarded
    def ids_for_file(self, key: str) -> set[str]:
        got = self.chunks.get(where={FILE: key}, include=[])
        return set(got["ids"])

    @guarded
    def set_collection(self, ids: Sequence[str], collection: str) -> None:
        """Chunks put in another archive collection: their metadata only (Chroma merges an
        update's metadata into the record's), so nothing is embedded again and ids stay. Main is
        no key at all (a None value deletes it), as ChunkMeta writes it."""
        value = None if collection == MAIN else collection
        self.journal.wrote(ids)
        for i in range(0, len(ids), WRITE_BATCH):
            batch = list(ids[i:i + WRITE_BATCH])
            self.chunks.update(ids=batch, metadatas=[{COLLECTION: value}] * len(batch))

    @guarded
    def collections_of(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> archive collection, for the ids that exist."""
        found: dict[str, str] = {}
        for i in range(0, len(ids), PAGE):
            got = self.chunks.get(ids=list(ids[i:i + PAGE]), include=["metadatas"])
            found.update((c, str((m or {}).get(COLLECTION) or MAIN)) for c, m in zip(got["ids"], got["metadatas"]))
        return found

    @guarded
    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), WRITE_BATCH):
            found.update(self.chunks.get(ids=list(ids[i:i + WRITE_BATCH]), include=[])["ids"])
        return found

    @guarded
    def get(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        """id -> its text and metadata, for the ids that exist."""
        if not ids:
            return {}
        return stored_chunks(self.chunks.get(ids=list(ids), include=["documents", "metadatas"]))

    @guarded
    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity); texts are fetched later, for the few kept."""
        n = self.count()
        if n == 0:
            return []
        got = self.chunks.query(query_embeddings=[vector], n_results=min(k, n), where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0])]

    # -- the whole store, for derived indexes (the snapshot) -------------------------
    @guarded
    def page(self, offset: int, limit: int) -> Chunks:
        """Chunks in storage order with texts, metadata and vectors (for derived indexes)."""
        return Chunks.from_chroma(self.chunks.get(include=_WITH_VECTORS, limit=limit, offset=offset))

    @property
    def identity(self) -> str:
        """The chunks collection's id: a store deleted and built again has a new one."""
        return str(self.chunks.id)

    @guarded
    def all_ids(self) -> list[str]:
        """Every chunk id, in storage order (as `page` gives them). From a local store in one
        call: a page at an offset costs the offset's rows again (at 1M chunks, 3 s for a page
        of 50,000 at 900,000), so paging the ids took 66 s where one call takes 6.5 s; from a
        server in pages, each response kept small."""
        if not self.settings.chroma_url:
            return list(self.chunks.get(include=[])["ids"])
        ids: list[str] = []
        while got := self.chunks.get(include=[], limit=ID_PAGE, offset=len(ids))["ids"]:
            ids += got
        return ids

    @guarded
    def fetch(self, ids: Sequence[str]) -> Chunks:
        """These chunks as `everything` gives them, in the order asked for (missing ones left out)."""
        found = Chunks.concat([Chunks.from_chroma(self.chunks.get(ids=list(ids[i:i + PAGE]), include=_WITH_VECTORS))
                               for i in range(0, len(ids), PAGE)])
        return found.take(ids)

    def everything(self) -> Chunks:
        """Every chunk as `page` gives them; read in pages, since one get of a large store
        exceeds SQLite's limits. A local store's pages are read by id, after listing the ids
        (`all_ids`): a page at an offset reads the offset's rows again (5.3 s for 5,000 chunks at
        950,000, against 0.6 s by id), which made a full rebuild at 1M chunks take 699 s. A
        chunk deleted meanwhile is left out; one added meanwhile makes the next load refresh."""
        if not self.settings.chroma_url:
            return self.fetch(self.all_ids())
        pages: list[Chunks] = []
        offset = 0
        while len(got := self.page(offset, PAGE)):
            pages.append(got)
            offset += len(got)
        return Chunks.concat(pages)

    # -- manifest of ingested files --------------------------------------------------
    @guarded
    def file_records(self) -> dict[str, dict[str, Any]]:
        return manifest.records(self.files)

    def ingested(self) -> dict[str, dict[str, Any]]:
        """The records of files in the store, without those a killed removal left half done."""
        return {k: r for k, r in self.file_records().items() if not r.get(REMOVING)}

    @guarded
    def put_file_record(self, key: str, record: dict[str, Any]) -> None:
        manifest.put(self.files, key, record)

    @guarded
    def delete_files(self, keys: Sequence[str]) -> dict[str, int]:
        """Files' chunks, then their records; the number of chunks each had. The records are
        first marked and their hashes dropped: a run killed after the chunks went would
        otherwise leave records saying the files are ingested and unchanged, and the next
        ingestion would skip them with none of their chunks. A marked record is finished by the
        next removal (or prune), or replaced when its file is ingested again. In batches: one
        file at a time took 38 ms a file (500 notes: 19 s, more than ingesting them)."""
        counts: dict[str, int] = {}
        for i in range(0, len(keys), FILE_BATCH):
            batch = list(keys[i:i + FILE_BATCH])
            manifest.mark_removing(self.files, batch)
            got = self.chunks.get(where={FILE: {"$in": batch}}, include=["metadatas"])
            for m in got["metadatas"]:
                counts[str(m[FILE])] = counts.get(str(m[FILE]), 0) + 1
            self.delete(sorted(got["ids"]))
            manifest.drop(self.files, batch)
        return {k: counts.get(k, 0) for k in keys}

    @guarded
    def move_files(self, keys: Sequence[str], collection: str) -> dict[str, int]:
        """Files put in another archive collection, without embedding anything: each record is
        marked with the target first, then its chunks' metadata changes (only those not there
        yet, so finishing a move cut short writes only the rest), then the mark goes. A record
        marked is finished by the next move or ingestion (`manifest.MOVING`). The number of
        chunks each file has."""
        counts: dict[str, int] = {}
        for i in range(0, len(keys), FILE_BATCH):
            batch = list(keys[i:i + FILE_BATCH])
            manifest.mark_moving(self.files, batch, collection)
            got = self.chunks.get(where={FILE: {"$in": batch}}, include=["metadatas"])
            for m in got["metadatas"]:
                counts[str(m[FILE])] = counts.get(str(m[FILE]), 0) + 1
            self.set_collection([c for c, m in zip(got["ids"], got["metadatas"])
                                 if (m.get(COLLECTION) or MAIN) != collection], collection)
            manifest.moved(self.files, batch)
        return {k: counts.get(k, 0) for k in keys}

    @guarded
    def mark_moving(self, keys: Sequence[str], collection: str) -> None:
        manifest.mark_moving(self.files, keys, collection)

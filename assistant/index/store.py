"""The Chroma store shared by both paths: chunk vectors, a manifest of ingested files, build info.

Chunks live in one collection whose metadata records what built it (embedding model,
chunking settings), so a mismatched reader or writer fails with the fix instead of
returning wrong neighbours. A second tiny collection is the manifest: one record per
ingested file with its content hash, written only after all of the file's chunks are in,
which is what makes re-runs free and interrupted runs resumable.

Every Chroma call goes through `_guarded`, which turns the failures a user can cause (a
server that went away, damaged files) into a StoreError that says what happened and what
to do; anything else is a bug and propagates unchanged. An open store is also checked
(`verify`) before it is used, so that a damaged index is an error rather than wrong answers.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlparse

import numpy as np

from assistant.errors import NoStoreError, StoreError, StoreMismatchError
from assistant.index.integrity import check_files
from assistant.settings import Settings

SCHEMA = 1
FILES = "files"
# Chroma rejects larger writes (its max batch size is about 5,400 records).
WRITE_BATCH = 2000
PAGE = 5000  # chunks read at a time when reading everything
FILE_BATCH = 200  # files removed together
ID_PAGE = 50_000  # ids alone read at a time
PROBES = 4  # stored chunks that must find themselves when a store is opened
# Chunk texts go in this metadata field, not in Chroma's documents: a local Chroma puts every
# document into a trigram full-text index (which a collection schema cannot turn off there)
# that we never query, since keyword search is our own BM25; that index was half the cost of
# each write, 0.7 of 1.6 ms a chunk of CPU, taken from the encoder during ingestion. Stores
# written before keep their texts in documents, and are read either way.
TEXT = "text"
REMOVING = "removing"  # marks a manifest record whose file is being removed
_P = ParamSpec("_P")
_R = TypeVar("_R")


def store_error(settings: Settings, e: BaseException) -> StoreError | None:
    """The StoreError for a failure a user can cause; None for anything else (a bug)."""
    import httpx
    from chromadb.errors import InternalError, NotFoundError

    detail = " ".join(str(e).split())[:300] or type(e).__name__
    if settings.chroma_url:
        if isinstance(e, httpx.TransportError):  # refused, reset, timed out, DNS
            return StoreError(f"Lost the connection to the Chroma server at {settings.chroma_url} "
                              f"({detail}). Check that it is running; the assistant reconnects by "
                              f"itself once it is back.")
        if isinstance(e, InternalError):
            return StoreError(f"The Chroma server at {settings.chroma_url} failed: {detail}")
    elif isinstance(e, InternalError):
        return StoreError(f"The store at {settings.store} is damaged or unusable (Chroma: {detail}). "
                          f"Rebuild it: ingest into a new --store (or delete this one).")
    if isinstance(e, NotFoundError):  # the collection was deleted under us
        return StoreError(f"{settings.chroma_url or settings.store} no longer holds the archive "
                          f"(it was deleted or reset). Ingest it again.")
    return None


def _guarded(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Store methods: failures a user can cause become StoreError (see `store_error`)."""
    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except StoreError:
            raise
        except Exception as e:
            owner = args[0]
            settings = owner.settings if isinstance(owner, Store) else args[1]
            error = store_error(settings, e)  # type: ignore[arg-type]
            if error is None:
                raise
            raise error from e
    return call


def _client(settings: Settings) -> Any:
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"chroma_url must look like http://HOST:PORT, not {settings.chroma_url!r}.")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as e:  # connection refused, DNS, wrong server
            raise StoreError(f"Cannot reach the Chroma server at {settings.chroma_url}: {e}") from None
    check_files(settings.store)
    path = str(settings.store / "chroma")
    # chromadb keeps one client per path for the life of the process: a store folder deleted
    # (or replaced) since would be served from memory, its files never written again.
    if _opened.get(path) != _file_identity(settings.store / "chroma" / "chroma.sqlite3"):
        _forget_client(path)
    try:
        client = chromadb.PersistentClient(path=path, settings=chroma_settings)
    except Exception:
        # chromadb 1.5 keeps a half-started client for the path when opening fails, and every
        # later attempt in this process fails on it: forget it, so a repaired store opens.
        _forget_client(path)
        raise
    _opened[path] = _file_identity(settings.store / "chroma" / "chroma.sqlite3")
    return client


_opened: dict[str, tuple[int, int] | None] = {}  # local store path -> its database file when opened


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _forget_client(path: str) -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)


def build_info(settings: Settings, dim: int) -> dict[str, Any]:
    return {"schema": SCHEMA, "embed_model": settings.embed_model, "embed_dim": dim,
            "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap}


class Store:
    """Chunks plus manifest in Chroma. Open with `Store.open` (read) or `Store.create` (write)."""

    def __init__(self, settings: Settings, client: Any, chunks: Any, files: Any) -> None:
        self.settings = settings
        self.client = client
        self.chunks = chunks
        self.files = files

    # -- opening -----------------------------------------------------------------------
    @property
    def where(self) -> str:
        return self.settings.chroma_url or str(self.settings.store)

    @classmethod
    @_guarded
    def open(cls, settings: Settings) -> Store:
        """Open an existing store for reading; only the embedding model has to agree."""
        if not settings.chroma_url and not (settings.store / "chroma").is_dir():
            raise NoStoreError(f"No store at {settings.store}. Build one with "
                               f"`assistant ingest PATH --store {settings.store}`.")
        client = _client(settings)
        try:
            chunks = client.get_collection(settings.collection)
            files = client.get_collection(f"{settings.collection}-{FILES}")
        except Exception as e:
            if settings.chroma_url and "not exist" not in str(e).lower():
                raise StoreError(f"Cannot read the Chroma server at {settings.chroma_url}: {e}") from None
            raise NoStoreError(f"{settings.chroma_url or settings.store} holds no archive yet. Build one "
                               f"with `assistant ingest PATH`.") from None
        store = cls(settings, client, chunks, files)
        store.check(write=False)
        store.verify()
        return store

    @classmethod
    @_guarded
    def create(cls, settings: Settings, dim: int) -> Store:
        """Open or create a store for writing; model and chunking must both agree."""
        if not settings.chroma_url:
            settings.store.mkdir(parents=True, exist_ok=True)
        client = _client(settings)
        info = build_info(settings, dim)
        try:
            chunks = client.get_or_create_collection(
                settings.collection, metadata={**info, "generation": uuid.uuid4().hex},
                configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
            files = client.get_or_create_collection(f"{settings.collection}-{FILES}",
                                                    embedding_function=None)
        except Exception as e:
            where = settings.chroma_url or settings.store
            raise StoreError(f"Cannot open the store at {where}: {e}") from None
        store = cls(settings, client, chunks, files)
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
        if diffs:
            raise StoreMismatchError(
                f"The store at {self.where} was built with {', '.join(diffs)}. Use the settings it "
                f"was built with, or rebuild it: ingest into a new --store (or delete this one).")

    @_guarded
    def verify(self) -> None:
        """A few stored chunks, spread over the store, must find themselves by their own
        vectors: a damaged index fails here (or errors) instead of answering wrongly."""
        n = self.count()
        for offset in sorted({n * i // PROBES for i in range(PROBES)} if n else ()):
            got = self.chunks.get(limit=1, offset=offset, include=["embeddings"])
            if not got["ids"]:
                continue
            found = self.chunks.query(query_embeddings=[got["embeddings"][0]], n_results=min(10, n),
                                      include=["distances"])
            ids, distances = found["ids"][0], found["distances"][0]
            # Found itself, or (among more than ten identical chunks) a vector identical to it.
            if got["ids"][0] not in ids and not (distances and distances[0] < 1e-4):
                raise StoreError(f"The store at {self.where} is damaged: its vector index does not "
                                 f"find the chunks it holds. Rebuild it: ingest into a new --store "
                                 f"(or delete this one).")

    # -- generation: bumped before any change, so derived indexes can tell they are stale --
    @property
    def generation(self) -> str:
        return str(self.info.get("generation", ""))

    @_guarded
    def refresh_generation(self) -> str:
        """The generation as stored now (another process may have ingested since we opened)."""
        self.chunks = self.client.get_collection(self.settings.collection)
        return self.generation

    @_guarded
    def bump_generation(self) -> str:
        gen = uuid.uuid4().hex
        meta = {k: v for k, v in self.info.items() if not k.startswith("hnsw:")}
        self.chunks.modify(metadata={**meta, "generation": gen, "updated": time.time()})
        return gen

    # -- chunks ----------------------------------------------------------------------
    @_guarded
    def count(self) -> int:
        return int(self.chunks.count())

    @_guarded
    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str],
               metas: Sequence[dict[str, Any]]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            j = i + WRITE_BATCH
            self.chunks.upsert(ids=list(ids[i:j]), embeddings=vectors[i:j],
                               metadatas=[{**_clean(m), TEXT: t} for m, t in zip(metas[i:j], texts[i:j])])

    @_guarded
    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            self.chunks.delete(ids=list(ids[i:i + WRITE_BATCH]))

    @_guarded
    def ids_for_file(self, key: str) -> set[str]:
        got = self.chunks.get(where={"file": key}, include=[])
        return set(got["ids"])

    @_guarded
    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), WRITE_BATCH):
            found.update(self.chunks.get(ids=list(ids[i:i + WRITE_BATCH]), include=[])["ids"])
        return found

    @_guarded
    def get(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """id -> (text, metadata), for the ids that exist."""
        if not ids:
            return {}
        got = _texts_out(self.chunks.get(ids=list(ids), include=["documents", "metadatas"]))
        return dict(zip(got["ids"], zip(got["documents"], got["metadatas"])))

    @_guarded
    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity); texts are fetched later, for the few kept."""
        n = self.count()
        if n == 0:
            return []
        got = self.chunks.query(query_embeddings=[vector], n_results=min(k, n), where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0])]

    # -- the whole store, for derived indexes (the snapshot) -------------------------
    @_guarded
    def page(self, offset: int, limit: int) -> dict[str, Any]:
        """Chunks in storage order with texts, metadata and vectors (for derived indexes)."""
        return _texts_out(self.chunks.get(include=["documents", "metadatas", "embeddings"], limit=limit,
                                          offset=offset))

    @property
    def identity(self) -> str:
        """The chunks collection's id: a store deleted and built again has a new one."""
        return str(self.chunks.id)

    @_guarded
    def all_ids(self) -> list[str]:
        """Every chunk id, in storage order (as `page` gives them)."""
        ids: list[str] = []
        while got := self.chunks.get(include=[], limit=ID_PAGE, offset=len(ids))["ids"]:
            ids += got
        return ids

    @_guarded
    def fetch(self, ids: Sequence[str]) -> dict[str, Any]:
        """These chunks as `everything` gives them, in the order asked for (missing ones left out)."""
        found: dict[str, tuple[str, dict[str, Any], Any]] = {}
        for i in range(0, len(ids), PAGE):
            got = _texts_out(self.chunks.get(ids=list(ids[i:i + PAGE]),
                                             include=["documents", "metadatas", "embeddings"]))
            found.update(zip(got["ids"], zip(got["documents"], got["metadatas"], got["embeddings"])))
        keep = [c for c in ids if c in found]
        return {"ids": keep, "documents": [found[c][0] for c in keep], "metadatas": [found[c][1] for c in keep],
                "embeddings": np.array([found[c][2] for c in keep], dtype=np.float32)}

    def everything(self) -> dict[str, Any]:
        """Every chunk as `page` gives them, with the vectors as one array; read in pages,
        since one get of a large store exceeds SQLite's limits."""
        out: dict[str, Any] = {"ids": [], "documents": [], "metadatas": []}
        vectors: list[np.ndarray] = []
        while (got := self.page(len(out["ids"]), PAGE))["ids"]:
            for key in ("ids", "documents", "metadatas"):
                out[key] += got[key]
            vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
        out["embeddings"] = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
        return out

    # -- manifest of ingested files --------------------------------------------------
    @_guarded
    def file_records(self) -> dict[str, dict[str, Any]]:
        got = self.files.get(include=["metadatas"])
        return {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"])}

    def ingested(self) -> dict[str, dict[str, Any]]:
        """The records of files in the store, without those a killed removal left half done."""
        return {k: r for k, r in self.file_records().items() if not r.get(REMOVING)}

    @_guarded
    def put_file_record(self, key: str, meta: dict[str, Any]) -> None:
        # Chroma merges an upsert's metadata into the record's; a None value deletes a field.
        self.files.upsert(ids=[key], embeddings=[[1.0]], metadatas=[{**_clean(meta), REMOVING: None}])

    @_guarded
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
            self.files.upsert(ids=batch, embeddings=[[1.0]] * len(batch),
                              metadatas=[{REMOVING: True, "sha256": None}] * len(batch))
            got = self.chunks.get(where={"file": {"$in": batch}}, include=["metadatas"])
            for m in got["metadatas"]:
                counts[str(m["file"])] = counts.get(str(m["file"]), 0) + 1
            self.delete(sorted(got["ids"]))
            self.files.delete(ids=batch)
        return {k: counts.get(k, 0) for k in keys}


def _texts_out(got: Any) -> dict[str, Any]:
    """A Chroma result with each chunk's text in "documents" (from its TEXT field, or for stores
    written before that field, from Chroma's documents) and metadata without the TEXT field."""
    out = dict(got)
    metas = [dict(m or {}) for m in got["metadatas"]]
    docs = got.get("documents") or [None] * len(metas)
    out["documents"] = [str(m.pop(TEXT, None) or d or "") for m, d in zip(metas, docs)]
    out["metadatas"] = metas
    return out


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma metadata holds str, int, float and bool; drop empty values."""
    return {k: v for k, v in meta.items() if v is not None and v != ""}


def local_cache_dir(settings: Settings) -> Path:
    """Where derived local files (the keyword index) live: beside the store, or per server URL."""
    if not settings.chroma_url:
        return settings.store
    import hashlib
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = hashlib.sha1(f"{settings.chroma_url}/{settings.collection}".encode()).hexdigest()[:16]
    return base / "report-assistant" / tag

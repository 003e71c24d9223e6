"""The Chroma store shared by both paths: chunk vectors, a manifest of ingested files, build info.

Chunks live in one collection whose metadata records what built it (embedding model,
chunking settings), so a mismatched reader or writer fails with the fix instead of
returning wrong neighbours. A second tiny collection is the manifest: one record per
ingested file with its content hash, written only after all of the file's chunks are in,
which is what makes re-runs free and interrupted runs resumable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assistant.errors import StoreError, StoreMismatchError
from assistant.settings import Settings

SCHEMA = 1
FILES = "files"
# Chroma rejects larger writes (its max batch size is about 5,400 records).
WRITE_BATCH = 2000


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
    return chromadb.PersistentClient(path=str(settings.store / "chroma"), settings=chroma_settings)


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
    def open(cls, settings: Settings) -> Store:
        """Open an existing store for reading; only the embedding model has to agree."""
        if not settings.chroma_url and not (settings.store / "chroma").is_dir():
            raise StoreError(f"No store at {settings.store}. Build one with "
                             f"`assistant ingest PATH --store {settings.store}`.")
        client = _client(settings)
        try:
            chunks = client.get_collection(settings.collection)
            files = client.get_collection(f"{settings.collection}-{FILES}")
        except Exception as e:
            if settings.chroma_url and "not exist" not in str(e).lower():
                raise StoreError(f"Cannot read the Chroma server at {settings.chroma_url}: {e}") from None
            raise StoreError(f"{settings.chroma_url or settings.store} holds no archive yet. Build one "
                             f"with `assistant ingest PATH`.") from None
        store = cls(settings, client, chunks, files)
        store.check(write=False)
        return store

    @classmethod
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

    # -- generation: bumped before any change, so derived indexes can tell they are stale --
    @property
    def generation(self) -> str:
        return str(self.info.get("generation", ""))

    def refresh_generation(self) -> str:
        """The generation as stored now (another process may have ingested since we opened)."""
        try:
            self.chunks = self.client.get_collection(self.settings.collection)
        except Exception as e:
            raise StoreError(f"Cannot read the store at {self.where}: {e}") from None
        return self.generation

    def bump_generation(self) -> str:
        gen = uuid.uuid4().hex
        meta = {k: v for k, v in self.info.items() if not k.startswith("hnsw:")}
        self.chunks.modify(metadata={**meta, "generation": gen, "updated": time.time()})
        return gen

    # -- chunks ----------------------------------------------------------------------
    def count(self) -> int:
        return int(self.chunks.count())

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str],
               metas: Sequence[dict[str, Any]]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            j = i + WRITE_BATCH
            self.chunks.upsert(ids=list(ids[i:j]), embeddings=vectors[i:j], documents=list(texts[i:j]),
                               metadatas=[_clean(m) for m in metas[i:j]])

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            self.chunks.delete(ids=list(ids[i:i + WRITE_BATCH]))

    def ids_for_file(self, key: str) -> set[str]:
        got = self.chunks.get(where={"file": key}, include=[])
        return set(got["ids"])

    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), WRITE_BATCH):
            found.update(self.chunks.get(ids=list(ids[i:i + WRITE_BATCH]), include=[])["ids"])
        return found

    def get(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """id -> (text, metadata), for the ids that exist."""
        if not ids:
            return {}
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        return {i: (d or "", m or {}) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity); texts are fetched later, for the few kept."""
        n = self.count()
        if n == 0:
            return []
        got = self.chunks.query(query_embeddings=[vector], n_results=min(k, n), where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0])]

    # -- manifest of ingested files --------------------------------------------------
    def file_records(self) -> dict[str, dict[str, Any]]:
        got = self.files.get(include=["metadatas"])
        return {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"])}

    def put_file_record(self, key: str, meta: dict[str, Any]) -> None:
        self.files.upsert(ids=[key], embeddings=[[1.0]], metadatas=[_clean(meta)])

    def delete_file(self, key: str) -> int:
        ids = sorted(self.ids_for_file(key))
        self.delete(ids)
        self.files.delete(ids=[key])
        return len(ids)


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

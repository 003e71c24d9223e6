"""Chroma clients, local or server, and the failures a user can cause turned into StoreErrors.

Every Chroma call of the store goes through `guarded`, which turns the failures a user can
cause (a server that went away, damaged files) into a StoreError that says what happened and
what to do; anything else is a bug and propagates unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlparse

from assistant.errors import DamagedIndexError, StoreError
from assistant.index.integrity import check_files
from assistant.settings import Settings

# What Chroma says when its vector index is damaged, or lacks records its database holds.
_INDEX_FAULTS = ("hnsw", "error finding id")
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
        if any(sign in detail.lower() for sign in _INDEX_FAULTS):  # opening the store repairs it
            return DamagedIndexError(f"The store at {settings.store} is damaged: its vector index is "
                                     f"unreadable (Chroma: {detail}). Rebuild it: ingest into a new "
                                     f"--store (or delete this one).")
        return StoreError(f"The store at {settings.store} is damaged or unusable (Chroma: {detail}). "
                          f"Rebuild it: ingest into a new --store (or delete this one).")
    if isinstance(e, NotFoundError):  # the collection was deleted under us
        return StoreError(f"{settings.chroma_url or settings.store} no longer holds the archive "
                          f"(it was deleted or reset). Ingest it again.")
    return None


def guarded(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Store methods (and classmethods taking settings first): failures a user can cause
    become StoreError (see `store_error`)."""
    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except StoreError:
            raise
        except Exception as e:
            owner = args[0]
            settings = args[1] if isinstance(owner, type) else owner.settings  # type: ignore[attr-defined]
            error = store_error(settings, e)  # type: ignore[arg-type]
            if error is None:
                raise
            raise error from e
    return call


def client(settings: Settings, repairing: bool = False) -> Any:
    """A Chroma client: over HTTP for `chroma_url`, else the local store's, its files checked
    (`repairing`: by assistant/index/repair.py, which is mending them)."""
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
    check_files(settings.store, repairing)
    path = str(settings.store / "chroma")
    # chromadb keeps one client per path for the life of the process: a store folder deleted
    # (or replaced) since would be served from memory, its files never written again.
    if _opened.get(path) != _file_identity(settings.store / "chroma" / "chroma.sqlite3"):
        forget_client(path)
    try:
        opened = chromadb.PersistentClient(path=path, settings=chroma_settings)
    except Exception:
        # chromadb 1.5 keeps a half-started client for the path when opening fails, and every
        # later attempt in this process fails on it: forget it, so a repaired store opens.
        forget_client(path)
        raise
    _opened[path] = _file_identity(settings.store / "chroma" / "chroma.sqlite3")
    return opened


_opened: dict[str, tuple[int, int] | None] = {}  # local store path -> its database file when opened


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def forget_client(path: str) -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)

"""One writer per store at a time, across processes.

Ingestion and removal hold an advisory lock (flock) on `write.lock` beside the store (for a
Chroma server, beside this machine's snapshot cache) for their whole run. A second one fails at
once with StoreBusyError, naming the first, rather than writing beside it (or, asked to wait,
waits): two processes writing one local Chroma store at once left it unreadable here
(DEVELOPERS.md), and both would save the snapshot into the same folder. A reader that refreshed
its snapshot takes the lock only to save it, and only if it is free: while an ingestion runs,
the reader keeps its snapshot in memory and the ingestion saves the next one. An ingestion that
finds a reader saving waits for it (a few seconds at most).

The lock is re-entrant within a process (ingestion saves its snapshot under its own lock) and
is released by the kernel when its process ends, killed or not. Where flock does not exist
(Windows), there is no lock.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.errors import StoreBusyError, StoreError
from assistant.index.places import local_cache_dir
from assistant.settings import Settings

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

SAVING = "saving the keyword snapshot"
WAIT_FOR_SAVE_S = 60.0  # a snapshot save is seconds long; this bounds a stuck one
# lock path -> [open file, depth, the thread that took it], for re-entry in this process
_HELD: dict[str, list[Any]] = {}
_GUARD = threading.Lock()


def lock_path(settings: Settings) -> Path:
    return local_cache_dir(settings) / "write.lock"


@contextmanager
def writing(settings: Settings, purpose: str, wait: bool = False) -> Iterator[None]:
    """Hold the store's write lock for an ingestion or removal (`purpose`, as the user would
    name it: "an ingestion"). StoreBusyError if another process holds it for one, unless
    `wait`: then wait for it to finish, saying once on stderr for whom."""
    path = lock_path(settings)
    deadline = time.monotonic() + WAIT_FOR_SAVE_S
    refused = 0  # tries in a row that found a writer; a glance by `writer()` lasts microseconds
    told = False
    while not _try(settings, path, purpose):
        holder = _holder(path)  # empty for a moment while a holder writes it: asked again
        refused = refused + 1 if holder and holder.get("purpose") != SAVING else 0
        if wait and refused >= 3 and not told:
            print(f"Waiting for {describe(holder)} to finish writing the store ...", file=sys.stderr, flush=True)
            told = True
        elif not wait and (refused >= 3 or time.monotonic() > deadline):
            raise StoreBusyError(_busy_message(settings, holder))
        time.sleep(0.05 if refused < 3 else 0.5)
    try:
        yield
    finally:
        _release(path)


@contextmanager
def saving(settings: Settings) -> Iterator[bool]:
    """The lock for saving a snapshot, if it is free now: yields whether it is held (always
    True within this process's own ingestion; True where no lock file can be made, as before)."""
    path = lock_path(settings)
    try:
        got = _acquire(path, SAVING)
    except OSError:  # a read-only place: saving there fails, or not, as it would without a lock
        yield True
        return
    try:
        yield got
    finally:
        if got:
            _release(path)


def held_by_another_thread(settings: Settings) -> bool:
    """This process writes the store in a thread other than this one (the chat ingesting an
    upload while a request is served): what that write is in the middle of is not this
    thread's to touch, though the lock would let it in."""
    with _GUARD:
        held = _HELD.get(str(lock_path(settings)))
        return held is not None and held[2] != threading.get_ident()


def writer(settings: Settings) -> dict[str, Any] | None:
    """Who is writing the store now, as far as this machine can tell ({"pid", "purpose",
    "since"}), or None. Takes a shared lock for a moment to ask, never the file's contents,
    which a killed writer leaves behind."""
    if fcntl is None:
        return None
    path = lock_path(settings)
    with _GUARD:
        if str(path) in _HELD:  # this process
            return _holder(path) or None
    try:
        fh = open(path)  # noqa: SIM115
    except OSError:
        return None  # never written to
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(path) or {"purpose": "another process"}
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return None


def _try(settings: Settings, path: Path, purpose: str) -> bool:
    try:
        return _acquire(path, purpose)
    except OSError as e:  # a store path under a file, a read-only folder, ...
        raise StoreError(f"Cannot write the store at {settings.chroma_url or settings.store}: "
                         f"{e.strerror or e} ({e.filename or path}).") from None


def _acquire(path: Path, purpose: str) -> bool:
    if fcntl is None:
        return True
    with _GUARD:
        key = str(path)
        if key in _HELD:
            _HELD[key][1] += 1
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115  (held open while the lock is held)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "purpose": purpose, "since": time.time()}))
        fh.flush()
        _HELD[key] = [fh, 1, threading.get_ident()]
        return True


def _release(path: Path) -> None:
    if fcntl is None:
        return
    with _GUARD:
        held = _HELD[str(path)]
        held[1] -= 1
        if held[1] == 0:
            del _HELD[str(path)]
            fh = held[0]
            fh.seek(0)
            fh.truncate()  # no stale holder for the next reader of the file
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()


def _holder(path: Path) -> dict[str, Any]:
    try:
        got = json.loads(path.read_text() or "{}")
        return got if isinstance(got, dict) else {}
    except (OSError, ValueError):
        return {}  # being rewritten: asked again on the next try


def describe(holder: dict[str, Any]) -> str:
    """Who holds the lock, for people: 'an ingestion, process 123, since 21:03:05'."""
    pid = f", process {holder['pid']}" if holder.get("pid") else ""
    since = f", since {datetime.fromtimestamp(float(holder['since'])):%H:%M:%S}" if holder.get("since") else ""
    return f"{holder.get('purpose') or 'another process'}{pid}{since}"


def _busy_message(settings: Settings, holder: dict[str, Any]) -> str:
    return (f"The store at {settings.chroma_url or settings.store} is being written by {describe(holder)}. "
            f"Wait for it to finish, then try again.")

"""Cited pages drawn outside the server's process, and kept a while: `Pages.draw` for /api/page.

A page is one PDFium call that Python cannot interrupt, and a page built to exhaust memory
aborts the process that draws it (ingest/readers/isolated.py measured 5.6 GB for a 198 KB PDF):
here that is a worker process whose address space is capped at RENDER_MB, killed past
RENDER_SECONDS. Either way that page fails alone with a message, and the next one gets a fresh
worker. The worker is the chat's own, not ingestion's, so a page never waits behind an upload's
parse. Drawn pages are kept (CACHE_ITEMS, CACHE_BYTES) by file identity, page and marks, so a
citation opened again, and the chat's JSON request after the image, cost nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, BinaryIO

from assistant.app.page_image import PageImage, PageUnavailable, render_page
from ingest.readers.isolated import Child

# Module constants, not settings (assistant/settings.py belongs to ingestion's work just now).
RENDER_SECONDS = 15.0  # one page's drawing; an ordinary page takes 0.05 to 0.3 s
RENDER_MB = 1024  # the worker's address space: its Python and PDFium take about 0.3 GB of it
MAX_FILE_MB = 256  # a file larger than this is not read into the worker at all
CACHE_ITEMS, CACHE_BYTES = 64, 48 * 2**20
QUEUE_SECONDS = 30.0  # how long a request waits for the worker before answering "busy"

Key = tuple[Any, ...]


class Pages:
    """Draws pages in the worker, one at a time, and keeps the latest ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one page at a time through the one worker
        self._kept_lock = threading.Lock()
        self._kept: OrderedDict[Key, PageImage] = OrderedDict()
        self._worker: Child | None = None

    def draw(self, handle: BinaryIO, page: int, marks: Sequence[str]) -> PageImage:
        """Page `page` of the open PDF `handle` with `marks` highlighted; PageUnavailable when it
        cannot be drawn. The file's identity (device, inode, size, modification time) is part of
        the key, so a file changed since is drawn again."""
        st = os.fstat(handle.fileno())
        key: Key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, page, tuple(marks))
        with self._kept_lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        if st.st_size > MAX_FILE_MB * 2**20:
            raise PageUnavailable(f"The file is over {MAX_FILE_MB} MB: open the whole file instead.", 413)
        drawn = self._in_worker(handle.read(), page, list(marks))
        with self._kept_lock:
            self._kept[key] = drawn
            while len(self._kept) > CACHE_ITEMS or sum(len(p.png) for p in self._kept.values()) > CACHE_BYTES:
                self._kept.popitem(last=False)
        return drawn

    def _in_worker(self, data: bytes, page: int, marks: list[str]) -> PageImage:
        if not self._lock.acquire(timeout=QUEUE_SECONDS):
            raise PageUnavailable("Pages are being drawn for others: try again in a moment.", 503)
        try:
            if self._worker is None or not self._worker.alive():
                self._worker = Child("assistant.app.page_worker", str(RENDER_MB))
            worker = self._worker
            failure = None
            try:
                worker.conn.send((data, page, marks))
                if worker.conn.poll(RENDER_SECONDS):
                    status, value = worker.conn.recv()
                else:
                    failure = f"Drawing the page took over {RENDER_SECONDS:g} s, the limit."
            except (EOFError, OSError):  # the worker died: out of memory, or PDFium crashed
                failure = "Drawing the page ran out of memory or crashed: the file may be built to do that."
            if failure is not None:
                worker.stop()
                self._worker = None
                raise PageUnavailable(failure)
        finally:
            self._lock.release()
        if status == "error":
            raise PageUnavailable(*value)
        assert isinstance(value, PageImage)
        return value

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None


_PAGES: Pages | None = None
_PAGES_LOCK = threading.Lock()


def pages() -> Pages:
    """The process's one Pages (its worker starts on the first page drawn)."""
    global _PAGES
    with _PAGES_LOCK:
        if _PAGES is None:
            _PAGES = Pages()
        return _PAGES


def _serve(conn: Connection, cap_mb: int, draw: Callable[..., PageImage] = render_page) -> None:
    import resource

    cap = cap_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    while True:
        try:
            data, page, marks = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        result: tuple[str, Any]
        try:
            result = ("ok", draw(data, page, marks))
        except PageUnavailable as e:
            result = ("error", (str(e), e.status))
        except MemoryError:
            result = ("error", (f"Drawing the page needed more than {cap_mb} MB of memory.", 422))
        except Exception as e:  # a strange file: that page fails, the worker goes on
            result = ("error", (f"The page could not be drawn ({type(e).__name__}).", 422))
        del data
        conn.send(result)


if __name__ == "__main__":
    from ingest.ocr import single_threaded_ocr

    single_threaded_ocr()
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))

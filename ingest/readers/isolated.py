"""Parsers that run in a worker process with a memory cap and a deadline.

One PDF page is one PDFium call that Python cannot interrupt: a 198 KB PDF whose page content
inflates to 64 MB made PDFium take over 5.6 GB and abort the whole process, which for a chat
upload is the server. Here the parse runs in one long-lived worker process (started once, on
first use) whose address space is capped at `max_parse_mb`; a parse that runs past
`max_file_seconds` is killed there. Either way the file fails alone with one line, and the next
file gets a fresh worker.
"""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits

_LOCK = threading.Lock()  # one parse at a time through the one worker
_worker: Child | None = None


class Child:
    """`python -m MODULE FD ARGS...` on the end of a socket pair, as the encoder processes are
    started: not a multiprocessing spawn, which re-runs the caller's main script (the server's,
    ingest/encoder.py). The parse worker here, and the chat's page worker, are each one."""

    def __init__(self, module: str = "ingest.readers.isolated", *args: str) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen([sys.executable, "-m", module, str(theirs.fileno()), *args],
                                     pass_fds=[theirs.fileno()])
        theirs.close()
        self.conn = Connection(ours.detach())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.conn.close()


def parse(target: str, path: Path, data: bytes, limits: Limits) -> list[Document]:
    """`target` ("module:function", a reader taking path, data, limits) run in the worker."""
    global _worker
    limits = limits.started()
    with _LOCK:
        if _worker is None or not _worker.alive():
            _worker = Child()
        worker = _worker
        failure = None
        try:
            worker.conn.send((target, path, data, limits))
            deadline, allowed = limits.deadline or time.monotonic(), limits.file_seconds
            while True:
                if not worker.conn.poll(max(0.0, deadline - time.monotonic()) + 1.0):
                    failure = f"parsing took over {allowed:g} s, the limit (setting max_file_seconds)"
                    break
                status, value = worker.conn.recv()
                if status != "extend":
                    break
                deadline, allowed = deadline + value, allowed + value  # pages to OCR: see `extend`
        except (EOFError, OSError):  # the worker died: out of memory, or the parser crashed
            failure = (f"the parser ran out of its {limits.parse_mb:g} MB of memory or crashed on this file "
                       "(setting max_parse_mb); a file built to exhaust memory does this")
        if failure is not None:  # the next file gets a fresh worker
            worker.stop()
            _worker = None
            raise IngestError(failure)
    if status == "error":
        raise IngestError(value)
    return list(value)


def extend(seconds: float) -> None:
    """Called by a parse in the worker: it needs `seconds` more than `max_file_seconds` (it found
    pages to read by OCR, each allowed its time), and the parent waits that much longer."""
    if _conn is not None:
        _conn.send(("extend", seconds))


_conn: Connection | None = None  # the worker's end, in the worker


def _serve(conn: Connection) -> None:
    import resource

    global _conn
    _conn = conn
    while True:
        try:
            target, path, data, limits = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        cap = int(limits.parse_mb * 2**20)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        result: tuple[str, Any]
        try:
            module, _, name = target.partition(":")
            result = ("ok", getattr(importlib.import_module(module), name)(path, data, limits))
        except IngestError as e:
            result = ("error", str(e))
        except MemoryError:
            result = ("error", f"the parser needed more than {limits.parse_mb:g} MB of memory for this file "
                               "(setting max_parse_mb)")
        except Exception as e:  # a parser bug on a strange file: that file fails, the worker goes on
            result = ("error", f"the parser failed on this file ({type(e).__name__}: {e})")
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY if hard == resource.RLIM_INFINITY
                                                    else hard, hard))
        conn.send(result)


if __name__ == "__main__":
    # Served from the module readers import (not this __main__ copy), so that their `extend`
    # finds the connection.
    from ingest.ocr import single_threaded_ocr
    from ingest.readers import isolated

    single_threaded_ocr()
    isolated._serve(Connection(int(sys.argv[1])))

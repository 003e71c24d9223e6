"""The encoder in a process of its own, for large ingestions.

In one process the encoder competes for the GIL with the parsing thread and the Chroma
writes: torch releases the GIL inside each operation but needs it back between them, and a
BERT forward pass is hundreds of operations, each waiting up to the interpreter's switch
interval behind the other threads. On the 27,699 news chunks that halved the encoder's speed
(end to end 0.43 of the raw encoder, benchmarks/ingest.py). A child process holds the model and
nothing else; the parent sends texts and gets vectors back, while its own threads parse and
write.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from assistant.errors import AssistantError

# Runs worth a process: it costs a few seconds to start (torch import, model load).
MIN_BYTES = 8 * 2**20


def _serve(conn: Connection, name: str, dtype: str) -> None:
    from assistant.embedding import load_embedder

    try:
        embedder = load_embedder(name, dtype)
    except Exception as e:
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", embedder.dim))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent is gone (finished or killed): so are we
            return
        if request is None:
            return
        texts, batch_size = request
        try:
            conn.send(("ok", embedder.encode(texts, batch_size)))
        except Exception as e:  # reported in the parent, which raises it
            conn.send(("error", f"{type(e).__name__}: {e}"))


class EncoderProcess:
    """`encode(texts, batch_size)` like an Embedder, computed in a child process started on
    first use. `close()` stops it; it also stops by itself when the parent dies.

    The child is `python -m ingest.encoder`, not a multiprocessing spawn: spawning re-runs the
    caller's main script, which a user's script without a `__main__` guard cannot survive."""

    def __init__(self, name: str, dtype: str) -> None:
        self.name, self.dtype = name, dtype
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        ours, theirs = socket.socketpair()
        self._proc = subprocess.Popen([sys.executable, "-m", "ingest.encoder", str(theirs.fileno()),
                                       self.name, self.dtype], pass_fds=[theirs.fileno()])
        theirs.close()
        self._conn = Connection(ours.detach())
        self._receive()  # "ready", or the reason it could not load the model
        return self._conn

    def _receive(self) -> Any:
        assert self._conn is not None
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):
            raise AssistantError("The encoder process stopped unexpectedly.") from None
        if status == "error":
            raise AssistantError(f"The encoder process failed: {value}")
        return value

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        conn = self._conn or self._start()
        conn.send((texts, batch_size))
        return np.asarray(self._receive(), dtype=np.float32)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), sys.argv[2], sys.argv[3])

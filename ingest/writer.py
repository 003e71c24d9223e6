"""The write loop: chunks awaiting their vectors are embedded in batches and stored, and each
file's manifest record written after its chunks, in the order crash safety needs."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from assistant.index.meta import COLLECTION
from assistant.index.store import Store
from assistant.settings import Settings
from ingest.encoder import Encoder
from ingest.handover import Batch, Chunk, Prepared


class Writer:
    """Embeds chunks in batches and commits each file once all of its chunks are stored.

    With encoder processes, several batches are in flight at once (one per process and one
    more), so no process waits for the next; they are retired in submission order. Chroma
    writes run in a thread of their own, in that order too, so the encoder never waits for the
    store; a file's commit is queued after its last chunk's write. `flush_at` chunks are
    embedded and stored together (ingest.pipeline.EMBED_BATCH)."""

    def __init__(self, store: Store, encoder: Encoder, settings: Settings, flush_at: int,
                 on_flush: Callable[[int], None] = lambda n: None) -> None:
        self.store, self.encoder, self.settings = store, encoder, settings
        self.flush_at, self.on_flush = flush_at, on_flush
        self.buffer: list[Chunk] = []
        self.waiting: list[Prepared] = []  # files whose chunks may still be in the buffer
        # Batches being embedded, oldest first, each with the files that may commit after it.
        self.inflight: deque[tuple[list[Chunk], Future[np.ndarray] | None, list[Prepared]]] = deque()
        self.depth = encoder.processes + 1
        self.aborted: set[str] = set()  # files whose chunks still in flight must not be stored
        self.written: dict[str, set[str]] = {}  # file -> chunk ids stored this run, until committed
        self.changed = False
        self.embedded = 0
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="ingest-store")
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    job()
                except BaseException as e:  # re-raised in the main thread
                    self.error = e

    def _submit(self, job: Callable[[], None]) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put(job)

    def touch(self) -> None:
        if not self.changed:  # readers' derived indexes now know they are stale
            self.store.bump_generation()
            self.changed = True

    def add(self, batch: Batch) -> None:
        self.touch()
        self.buffer += batch.chunks
        if len(self.buffer) >= self.flush_at:
            self.flush()

    def commit(self, prep: Prepared) -> None:
        """Record the file once its last chunks are stored (after the next flush)."""
        self.touch()
        self.waiting.append(prep)

    def abort(self, key: str) -> None:
        """Undo a failed file's chunks of this run; they were all new, so its old ones stay."""
        self.buffer = [c for c in self.buffer if c.meta.file != key]
        self.aborted.add(key)  # and those still being embedded are dropped when they return
        written = sorted(self.written.pop(key, set()))
        self._submit(lambda: self.store.delete(written))

    def flush(self, drain: bool = False) -> None:
        """Send the buffer to the encoder; store what comes back, oldest batch first, keeping
        at most `depth` batches in flight (none when `drain`)."""
        if self.buffer or self.waiting:
            batch, self.buffer = self.buffer, []
            # No chunks, only commits (files whose chunks were all stored before): nothing to embed.
            future = self.encoder.submit([c.embed_text for c in batch], self.settings.embed_batch_size) \
                if batch else None
            self.inflight.append((batch, future, self.waiting))
            self.waiting = []
        while self.inflight and (drain or len(self.inflight) > self.depth):
            self._retire(*self.inflight.popleft())

    def _retire(self, batch: list[Chunk], future: Future[np.ndarray] | None, commits: list[Prepared]) -> None:
        if future is not None:
            vectors = future.result()
            keep = [i for i, c in enumerate(batch) if c.meta.file not in self.aborted]
            if keep:
                kept = [batch[i] for i in keep]
                for c in kept:
                    self.written.setdefault(c.meta.file, set()).add(c.id)
                rows = vectors[keep]
                self._submit(lambda: self.store.upsert([c.id for c in kept], rows, [c.text for c in kept],
                                                       [c.meta for c in kept]))
            self.embedded += len(batch)
            self.on_flush(self.embedded)
        for prep in commits:
            self.written.pop(prep.key, None)
            self._submit(lambda prep=prep: self._commit(prep))  # type: ignore[misc]

    def _commit(self, prep: Prepared) -> None:
        stale = self.store.ids_for_file(prep.key) - set(prep.ids)
        self.store.delete(sorted(stale))
        # Chunks stored before this run keep their ids, and may be in another collection (a file
        # moved, or a run cut short that put them elsewhere): changed in place, after the record
        # is marked with the target, so that a run killed half way is finished by the next one.
        target = prep.record[COLLECTION]
        wrong = sorted(c for c, name in self.store.collections_of(prep.reused).items() if name != target) \
            if prep.reused else []
        if wrong:
            if prep.known:
                self.store.mark_moving([prep.key], target)
            self.store.set_collection(wrong, target)
        self.store.put_file_record(prep.key, prep.record)

    def close(self) -> None:
        """Flush, wait for every queued write, and raise the first write error if any."""
        try:
            self.flush(drain=True)
        finally:
            self.jobs.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


def publish(store: Store) -> None:
    """After a run's last write: a new generation, then the snapshot refreshed. A reader that
    refreshed its snapshot during the run (the chat answering while an upload is ingested)
    holds part of it, and the new generation tells it so."""
    from assistant.index.snapshot import Snapshot

    store.bump_generation()
    Snapshot.refresh(store)

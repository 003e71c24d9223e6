"""The write path: find files, skip the unchanged, parse and chunk (in a thread), embed, store.

Crash safety comes from the order of writes. Chunk ids are derived from the document's
content hash, so re-writing them is idempotent; a file's manifest record (its hash) is
written only after all of its chunks are stored and its stale chunks deleted. A run killed
at any point leaves files without a current record, and the next run redoes exactly those,
embedding only chunk ids that are not already stored.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError, IngestError
from assistant.index.dates import parse_date
from assistant.index.embedding import Embedder, LazyEmbedder
from assistant.index.locks import writing
from assistant.index.store import Store
from assistant.settings import Settings
from ingest.chunking import chunk_text, fit
from ingest.document import Document
from ingest.files import discover, read_file
from ingest.limits import Limits
from ingest.readers import reader_for
from ingest.report import FileResult, IngestReport

EMBED_BATCH = 256  # chunks embedded and stored together; also the resume granularity


@dataclass
class Chunk:
    id: str
    text: str
    embed_text: str
    meta: dict[str, Any]


@dataclass
class Batch:
    """Chunks of one file that are not stored yet, ready to embed."""

    key: str
    chunks: list[Chunk]


@dataclass
class Prepared:
    """A file whose chunks have all been handed over: what its manifest record will say."""

    key: str
    result: FileResult
    record: dict[str, Any]
    ids: list[str] = field(default_factory=list)


@dataclass
class Aborted:
    """A file that failed after some of its chunks were handed over: they must be undone."""

    result: FileResult


def file_key(path: Path) -> str:
    return str(path.resolve())


def is_under(key: str, root: str) -> bool:
    """Is the stored file `key` the path `root` (a file_key) or inside that folder?"""
    return key == root or key.startswith(root.rstrip(os.sep) + os.sep)


def chunk_document(doc: Document, key: str, settings: Settings, embedder: Embedder,
                   limits: Limits | None = None, made: int = 0) -> list[Chunk]:
    """The document's chunks; with `limits`, refused (IngestError) as soon as they and the `made`
    chunks of the file's earlier documents are more than `max_chunks`."""
    doc_hash = doc.content_hash()
    date = parse_date(doc.date)
    base = {"file": key, "path": key, "doc_id": doc.doc_id if doc.kind == "jsonl" else key,
            "title": doc.title, "date": date[0] if date else None,
            "date_num": date[1] if date else None, "source": doc.source, "url": doc.url,
            "kind": doc.kind, "doc_hash": doc_hash[:16]}
    prefix = f"{doc.title}\n" if doc.title else ""
    chunks: list[Chunk] = []
    for page, text in doc.pages:
        pieces = chunk_text(text, settings.chunk_tokens, settings.chunk_overlap)
        for piece in fit(pieces, prefix, embedder.count_tokens, embedder.max_tokens):
            n = len(chunks)
            cid = hashlib.sha1(f"{key}\0{doc.doc_id}\0{doc_hash}\0{n}".encode()).hexdigest()
            chunks.append(Chunk(cid, piece, prefix + piece, {**base, "page": page if page else None, "chunk": n}))
        if limits is not None:
            limits.check_chunks(made + len(chunks))
    return chunks


def _read(path: Path, settings: Settings) -> tuple[bytes, int] | FileResult:
    key = file_key(path)
    try:
        return read_file(path, settings.max_file_mb)
    except PermissionError:
        return FileResult(key, "failed", "permission denied")
    except FileNotFoundError:
        return FileResult(key, "failed", "gone before it could be read (deleted or moved meanwhile)")
    except IngestError as e:
        return FileResult(key, "failed", str(e))
    except OSError as e:
        return FileResult(key, "failed", f"cannot read ({e.strerror or e})")


def _prepare(path: Path, store: Store, records: dict[str, dict[str, Any]], settings: Settings,
             embedder: Embedder) -> Iterator[Batch | Prepared | Aborted | FileResult]:
    """One file: its result if there is nothing to embed, else its new chunks in batches (so a
    large feed reaches the encoder record by record) and then its Prepared record."""
    key = file_key(path)
    reader = reader_for(path)
    if reader is None:
        yield FileResult(key, "skipped", f"unsupported file type {path.suffix or '(none)'}")
        return
    got = _read(path, settings)
    if isinstance(got, FileResult):
        yield got
        return
    data, size = got
    sha = hashlib.sha256(data).hexdigest()
    old = records.get(key)
    if old and old.get("sha256") == sha:
        yield FileResult(key, "unchanged", documents=int(old.get("documents", 1)),
                         chunks=int(old.get("chunks", 0)))
        return
    result = FileResult(key, "updated" if old else "added")
    handed_over = False
    try:
        # Parsing checks the whole file, within its limits, before any chunk is handed over; a
        # file of one document is checked against max_chunks before any is embedded, a feed's
        # records as they come (its chunks handed over are then undone: Aborted).
        limits = Limits.from_settings(settings).started()
        docs = reader(path, data, limits)
        del data
        ids: list[str] = []
        pending: list[Chunk] = []
        for i, doc in enumerate(docs):
            chunks = chunk_document(doc, key, settings, embedder, limits, made=len(ids))
            ids += [c.id for c in chunks]
            pending += chunks
            if len(pending) >= EMBED_BATCH or (i == len(docs) - 1 and pending):
                have = store.existing([c.id for c in pending])
                todo = [c for c in pending if c.id not in have]
                if todo:
                    result.embedded += len(todo)
                    handed_over = True
                    yield Batch(key, todo)
                pending = []
    except Exception as e:  # a parser crashing on a hostile file must not stop the run
        result.status = "failed"
        result.reason = str(e) if isinstance(e, IngestError) else f"could not parse ({type(e).__name__}: {e})"
        result.embedded = 0
        yield Aborted(result) if handed_over else result
        return
    if not ids:
        yield FileResult(key, "failed", "no text to index")
        return
    result.documents, result.chunks = len(docs), len(ids)
    record = {"sha256": sha, "size": size, "documents": len(docs), "chunks": len(ids),
              "kind": path.suffix.lower().lstrip("."), "ingested_at": time.time()}
    yield Prepared(key, result, record, ids)


def _produce(files: list[Path], out: queue.Queue[Any], store: Store,
             records: dict[str, dict[str, Any]], settings: Settings, embedder: Embedder) -> None:
    try:
        for path in files:
            for item in _prepare(path, store, records, settings, embedder):
                out.put(item)
    except BaseException as e:  # handed to the consumer, which re-raises it
        out.put(e)
    out.put(None)


def _prepared(files: list[Path], store: Store, records: dict[str, dict[str, Any]], settings: Settings,
              embedder: Embedder) -> Iterator[Batch | Prepared | Aborted | FileResult]:
    """Parsing and chunking run ahead of embedding, in a thread (tokenizers release the GIL)."""
    q: queue.Queue[Any] = queue.Queue(maxsize=4)
    threading.Thread(target=_produce, args=(files, q, store, records, settings, embedder),
                     daemon=True, name="ingest-parse").start()
    while (item := q.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


class _Writer:
    """Embeds chunks in batches and commits each file once all of its chunks are stored.

    With encoder processes, several batches are in flight at once (one per process and one
    more), so no process waits for the next; they are retired in submission order. Chroma
    writes run in a thread of their own, in that order too, so the encoder never waits for the
    store; a file's commit is queued after its last chunk's write."""

    def __init__(self, store: Store, encoder: Any, settings: Settings,
                 on_flush: Callable[[int], None] = lambda n: None) -> None:
        self.store, self.encoder, self.settings = store, encoder, settings
        self.on_flush = on_flush
        self.buffer: list[Chunk] = []
        self.waiting: list[Prepared] = []  # files whose chunks may still be in the buffer
        # Batches being embedded, oldest first, each with the files that may commit after it.
        self.inflight: deque[tuple[list[Chunk], Future[np.ndarray], list[Prepared]]] = deque()
        self.depth = getattr(encoder, "processes", 0) + 1
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
        if len(self.buffer) >= EMBED_BATCH:
            self.flush()

    def commit(self, prep: Prepared) -> None:
        """Record the file once its last chunks are stored (after the next flush)."""
        self.touch()
        self.waiting.append(prep)

    def abort(self, key: str) -> None:
        """Undo a failed file's chunks of this run; they were all new, so its old ones stay."""
        self.buffer = [c for c in self.buffer if c.meta["file"] != key]
        self.aborted.add(key)  # and those still being embedded are dropped when they return
        written = sorted(self.written.pop(key, set()))
        self._submit(lambda: self.store.delete(written))

    def flush(self, drain: bool = False) -> None:
        """Send the buffer to the encoder; store what comes back, oldest batch first, keeping
        at most `depth` batches in flight (none when `drain`)."""
        if self.buffer or self.waiting:
            batch, self.buffer = self.buffer, []
            texts = [c.embed_text for c in batch]
            submit = getattr(self.encoder, "submit", None)
            if submit is not None:
                future = submit(texts, self.settings.embed_batch_size) if batch else _done(None)
            else:  # the in-process encoder: embedded here and now
                future = _done(self.encoder.encode(texts, self.settings.embed_batch_size) if batch else None)
            self.inflight.append((batch, future, self.waiting))
            self.waiting = []
        while self.inflight and (drain or len(self.inflight) > self.depth):
            self._retire(*self.inflight.popleft())

    def _retire(self, batch: list[Chunk], future: Future[np.ndarray], commits: list[Prepared]) -> None:
        if batch:
            vectors = future.result()
            keep = [i for i, c in enumerate(batch) if c.meta["file"] not in self.aborted]
            if keep:
                kept = [batch[i] for i in keep]
                for c in kept:
                    self.written.setdefault(c.meta["file"], set()).add(c.id)
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


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def ingest(paths: Iterable[str | Path], settings: Settings | None = None, *, prune: bool = False,
           quiet: bool = True, wait: bool = False, **overrides: Any) -> IngestReport:
    """Bring the store in line with the files under `paths`; see the module docstring.
    StoreBusyError if another process is writing the store (assistant/locks.py), unless
    `wait`: then after it."""
    settings = (settings or Settings.load()).replace(**overrides)
    with writing(settings, "an ingestion", wait):
        return _ingest([Path(p) for p in paths], settings, prune, quiet, time.perf_counter())


def _ingest(roots: list[Path], settings: Settings, prune: bool, quiet: bool, start: float) -> IngestReport:
    embedder: Any = LazyEmbedder(settings.embed_model, settings.embed_dtype)
    store = Store.create(settings, embedder.dim)
    files, problems = discover(roots)
    report = IngestReport(files=problems, store=store.where)
    records = store.file_records()
    bar = _progress(len(files), quiet)

    def show(embedded: int) -> None:
        rate = embedded / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix_str(f"{embedded} chunks embedded, {rate:.0f} chunks/s")

    encoder = _encoder(settings, files, embedder)
    writer = _Writer(store, encoder, settings, show)
    try:
        for item in _prepared(files, store, records, settings, embedder):
            if isinstance(item, Batch):
                writer.add(item)
                continue
            if isinstance(item, Prepared):
                writer.commit(item)
                item = item.result
            elif isinstance(item, Aborted):
                writer.abort(item.result.path)
                item = item.result
            report.files.append(item)
            bar.update(1)
        writer.close()
    finally:
        if encoder is not embedder:
            encoder.close()
    bar.close()
    report.files += _removed(roots, files, records, store, writer if prune else None)
    if writer.changed:
        publish(store)
    report.chunks_in_store = store.count()
    report.seconds = time.perf_counter() - start
    return report


def publish(store: Store) -> None:
    """After a run's last write: a new generation, then the snapshot refreshed. A reader that
    refreshed its snapshot during the run (the chat answering while an upload is ingested)
    holds part of it, and the new generation tells it so."""
    from assistant.index.snapshot import Snapshot

    store.bump_generation()
    Snapshot.refresh(store)


def _encoder(settings: Settings, files: list[Path], embedder: Any) -> Any:
    """The in-process encoder, or for large runs encoder processes (ingest/encoder.py); either
    starts only when something has to be embedded."""
    from ingest.encoder import MIN_BYTES, EncoderPool

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
    return EncoderPool(settings.embed_model, settings.embed_dtype) if mode == "on" else embedder


def _removed(roots: list[Path], files: list[Path], records: dict[str, dict[str, Any]],
             store: Store, writer: _Writer | None) -> list[FileResult]:
    """Files in the store, under the given roots, that are no longer on disk."""
    present = {file_key(f) for f in files}
    prefixes = [file_key(r) for r in roots]
    gone = [key for key in sorted(records) if any(is_under(key, p) for p in prefixes)
            and key not in present and not Path(key).exists()]
    if writer is None or not gone:
        return [FileResult(key, "missing") for key in gone]
    writer.touch()
    chunks = store.delete_files(gone)
    return [FileResult(key, "removed", chunks=chunks[key]) for key in gone]


def _progress(total: int, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=quiet or total == 0, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)


"""The write path in order: find files, skip the unchanged, parse and chunk them (in a thread),
and hand their chunks to the writer (ingest/writer.py), which embeds and stores them.

Crash safety comes from the order of writes. Chunk ids are derived from the document's
content hash, so re-writing them is idempotent; a file's manifest record (its hash) is
written only after all of its chunks are stored and its stale chunks deleted. A run killed
at any point leaves files without a current record, and the next run redoes exactly those,
embedding only chunk ids that are not already stored.

Each file belongs to one archive collection (`collection=`; without it, a file keeps the one its
record names, and a new file goes to main). A file already stored, unchanged, whose collection
is to change is moved (its chunks' metadata changed, nothing embedded: ingest/move.py's order).
"""

from __future__ import annotations

import hashlib
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from assistant.index.dates import parse_date
from assistant.index.embedding import LazyEmbedder, TokenCounter
from assistant.index.locks import writing
from assistant.index.manifest import MOVING, OCR_PENDING, collection_of
from assistant.index.meta import COLLECTION, MAIN, ChunkMeta, check_collection, embed_input
from assistant.index.store import Store
from assistant.settings import Settings
from ingest.chunking import chunk_text, fit
from ingest.document import Document
from ingest.encoder import open_encoder
from ingest.files import discover, file_key, is_under, read_or_failure
from ingest.handover import Aborted, Batch, Chunk, Prepared
from ingest.limits import Limits
from ingest.move import finish_moves
from ingest.readers import reader_for
from ingest.report import FileResult, IngestReport
from ingest.sentences import prepare_sentences
from ingest.writer import Writer, publish

EMBED_BATCH = 256  # chunks embedded and stored together; also the resume granularity


def chunk_document(doc: Document, key: str, settings: Settings, embedder: TokenCounter,
                   limits: Limits | None = None, made: int = 0, collection: str = MAIN) -> list[Chunk]:
    """The document's chunks; with `limits`, refused (IngestError) as soon as they and the `made`
    chunks of the file's earlier documents are more than `max_chunks`."""
    doc_hash = doc.content_hash()
    date = parse_date(doc.date)
    base = ChunkMeta(file=key, path=key, doc_id=doc.doc_id if doc.kind == "jsonl" else key,
                     title=doc.title, date=date[0] if date else None, date_num=date[1] if date else None,
                     source=doc.source, url=doc.url, kind=doc.kind, doc_hash=doc_hash[:16], collection=collection)
    prefix = f"{doc.title}\n" if doc.title else ""
    chunks: list[Chunk] = []
    for page, text in doc.pages:
        tables = doc.tables.get(page, [])
        pieces = chunk_text(text, settings.chunk_tokens, settings.chunk_overlap, tables)
        for piece in fit(pieces, prefix, embedder.count_tokens, embedder.max_tokens, {t.header for t in tables}):
            n = len(chunks)
            cid = hashlib.sha1(f"{key}\0{doc.doc_id}\0{doc_hash}\0{n}".encode()).hexdigest()
            ocr = page is not None and page in doc.ocr
            confidence = doc.ocr[page] if page is not None and ocr else None
            meta = replace(base, page=page or None, chunk=n, ocr=ocr, ocr_confidence=confidence)
            chunks.append(Chunk(cid, piece, embed_input(doc.title, piece), meta))
        if limits is not None:
            limits.check_chunks(made + len(chunks))
    return chunks


def _prepare(path: Path, store: Store, records: dict[str, dict[str, Any]], settings: Settings,
             embedder: TokenCounter, collection: str | None,
             ocr_missing: str | None = None) -> Iterator[Batch | Prepared | Aborted | FileResult]:
    """One file: its result if there is nothing to embed, else its new chunks in batches (so a
    large feed reaches the encoder record by record) and then its Prepared record. A file whose
    record says scanned pages wait for OCR is read again once `ocr_missing` is None (an engine
    is here), its content unchanged or not."""
    key = file_key(path)
    reader = reader_for(path)
    if reader is None:
        yield FileResult(key, "skipped", f"unsupported file type {path.suffix or '(none)'}")
        return
    got = read_or_failure(path, settings.max_file_mb)
    if isinstance(got, FileResult):
        yield got
        return
    data, size = got
    sha = hashlib.sha256(data).hexdigest()
    old = records.get(key)
    target = collection or collection_of(old)
    waiting = int((old or {}).get(OCR_PENDING) or 0)  # its scanned pages an earlier run could not read
    if old and old.get("sha256") == sha and not (waiting and ocr_missing is None):
        documents = int(old.get("documents", 1))
        if collection_of(old) == target and not old.get(MOVING):
            yield FileResult(key, "needs-ocr" if waiting else "unchanged", _waiting(waiting, ocr_missing),
                             documents=documents, chunks=int(old.get("chunks", 0)), needs_ocr=waiting)
            return
        # The same content in another collection (or a move cut short): moved, not embedded again.
        held = sorted(store.ids_for_file(key))
        record = {k: v for k, v in old.items() if k != MOVING}
        yield Prepared(key, FileResult(key, "moved", documents=documents, chunks=len(held)),
                       {**record, COLLECTION: target}, held, reused=held, known=True)
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
        reused: list[str] = []  # stored before: they may be in another collection
        pending: list[Chunk] = []
        for i, doc in enumerate(docs):
            chunks = chunk_document(doc, key, settings, embedder, limits, made=len(ids), collection=target)
            ids += [c.id for c in chunks]
            pending += chunks
            if len(pending) >= EMBED_BATCH or (i == len(docs) - 1 and pending):
                have = store.existing([c.id for c in pending])
                reused += [c.id for c in pending if c.id in have]
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
    result.ocr_pages = sum(len(d.ocr) for d in docs)
    result.needs_ocr = sum(len(d.needs_ocr) for d in docs)
    unread = [f"page {n}: {why}" for d in docs for n, why in d.unread.items()]
    if result.needs_ocr:  # not failed: its text layer is in, its scans wait for an OCR engine
        result.status, result.reason = "needs-ocr", _waiting(result.needs_ocr, ocr_missing)
    elif unread:
        result.reason = f"{len(unread)} scanned pages not read ({'; '.join(unread[:3])})"
    if not ids:
        # All of it scanned: no record, so every run reports it until one can read it.
        yield result if result.needs_ocr else FileResult(key, "failed", "no text to index")
        return
    result.documents, result.chunks = len(docs), len(ids)
    record = {"sha256": sha, "size": size, "documents": len(docs), "chunks": len(ids),
              "kind": path.suffix.lower().lstrip("."), "ingested_at": time.time(), COLLECTION: target,
              OCR_PENDING: result.needs_ocr or None}
    yield Prepared(key, result, record, ids, reused=reused, known=old is not None)


def _waiting(pages: int, missing: str | None) -> str:
    if not pages:
        return ""
    why = missing or "an earlier run had no OCR engine; this one has"
    return f"{pages:,} scanned pages not read yet: {why}"


def _produce(files: list[Path], out: queue.Queue[Any], store: Store, records: dict[str, dict[str, Any]],
             settings: Settings, embedder: TokenCounter, collection: str | None) -> None:
    try:
        ocr_missing = Limits.from_settings(settings).ocr.missing()
        for path in files:
            for item in _prepare(path, store, records, settings, embedder, collection, ocr_missing):
                out.put(item)
    except BaseException as e:  # handed to the consumer, which re-raises it
        out.put(e)
    out.put(None)


def _prepared(files: list[Path], store: Store, records: dict[str, dict[str, Any]], settings: Settings,
              embedder: TokenCounter, collection: str | None) -> Iterator[Batch | Prepared | Aborted | FileResult]:
    """Parsing and chunking run ahead of embedding, in a thread (tokenizers release the GIL)."""
    q: queue.Queue[Any] = queue.Queue(maxsize=4)
    threading.Thread(target=_produce, args=(files, q, store, records, settings, embedder, collection),
                     daemon=True, name="ingest-parse").start()
    while (item := q.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def ingest(paths: Iterable[str | Path], settings: Settings | None = None, *, prune: bool = False,
           quiet: bool = True, wait: bool = False, collection: str | None = None,
           **overrides: Any) -> IngestReport:
    """Bring the store in line with the files under `paths`; see the module docstring.
    `collection`: the archive collection the files go to (moving those stored in another);
    None: each stays where its record says, new ones go to main. `prune`: also remove stored
    files under `paths` that are gone from disk (only those of `collection`, when given).
    ConfigError for a bad collection name. StoreBusyError if another process is writing the
    store (assistant/index/locks.py), unless `wait`: then after it."""
    if collection is not None:
        check_collection(collection)
    settings = (settings or Settings.load()).replace(**overrides)
    with writing(settings, "an ingestion", wait):
        return _ingest([Path(p) for p in paths], settings, prune, quiet, time.perf_counter(), collection)


def _ingest(roots: list[Path], settings: Settings, prune: bool, quiet: bool, start: float,
            collection: str | None) -> IngestReport:
    embedder = LazyEmbedder(settings.embed_model, settings.embed_dtype, settings.device)
    store = Store.create(settings, embedder.dim)
    files, problems = discover(roots)
    report = IngestReport(files=problems, store=store.where)
    records = store.file_records()
    finished = finish_moves(store, records)  # a move cut short, before anything else
    if finished:
        report.files += finished
        records = store.file_records()
    bar = _progress(len(files), quiet)

    def show(embedded: int) -> None:
        rate = embedded / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix_str(f"{embedded} chunks embedded, {rate:.0f} chunks/s")

    encoder = open_encoder(settings, files, embedder)
    writer = Writer(store, encoder, settings, EMBED_BATCH, show)
    try:
        for item in _prepared(files, store, records, settings, embedder, collection):
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
        bar.close()
        report.files += _removed(roots, files, records, store, writer if prune else None, collection)
        if writer.changed or finished:
            publish(store)
        if settings.sentence_vectors:
            try:
                report.sentences_encoded = prepare_sentences(store, encoder, quiet).encoded
            except OSError as e:  # a full disk, say: the files are stored; answers encode what is missing
                print(f"Sentence vectors for answers not saved ({e}); answers encode them meanwhile, and the "
                      f"next sync tries again.", file=sys.stderr)
    finally:
        encoder.close()
    report.chunks_in_store = store.count()
    report.seconds = time.perf_counter() - start
    return report


def _removed(roots: list[Path], files: list[Path], records: dict[str, dict[str, Any]],
             store: Store, writer: Writer | None, collection: str | None) -> list[FileResult]:
    """Files in the store, under the given roots, that are no longer on disk (of `collection`
    only, when given: a sync of one collection never removes another's files)."""
    present = {file_key(f) for f in files}
    prefixes = [file_key(r) for r in roots]
    gone = [key for key in sorted(records) if any(is_under(key, p) for p in prefixes)
            and key not in present and not Path(key).exists()
            and (collection is None or collection_of(records[key]) == collection)]
    if writer is None or not gone:
        return [FileResult(key, "missing") for key in gone]
    writer.touch()
    chunks = store.delete_files(gone)
    return [FileResult(key, "removed", chunks=chunks[key]) for key in gone]


def _progress(total: int, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=quiet or total == 0, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)


"""Moving stored files to another archive collection (`assistant move`): their chunks' metadata
and manifest records change; nothing is parsed or embedded, and chunk ids stay.

Crash safety, in the spirit of removal: each record first gets the target and a MOVING mark,
then its chunks change, then the mark goes (Store.move_files). A run killed half way leaves
marked records; the next move or ingestion finishes them to the collection they name
(`finish_moves`), and until then a snapshot refresh re-reads those files' chunks, so readers
see each chunk where Chroma has it. The generation is bumped before the first change and after
the last, as ingestion does, and the write lock is held throughout.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.index.locks import writing
from assistant.index.manifest import MOVING, REMOVING, collection_of
from assistant.index.meta import check_collection
from assistant.index.store import Store
from assistant.settings import Settings
from ingest.files import file_key, is_under
from ingest.report import FileResult, IngestReport
from ingest.writer import publish


def move(paths: Iterable[str | Path], collection: str, settings: Settings | None = None, *,
         wait: bool = False, **overrides: Any) -> IngestReport:
    """Put the stored files at `paths` (a file, or every stored file under a folder) in the
    archive collection `collection`. A path that matches nothing stored is reported as failed;
    files already there as unchanged. ConfigError for a bad collection name; StoreBusyError if
    another process is writing the store, unless `wait`: then after it."""
    check_collection(collection)
    settings = (settings or Settings.load()).replace(**overrides)
    with writing(settings, "a move", wait):
        return _move(list(paths), collection, settings, time.perf_counter())


def _move(paths: list[str | Path], collection: str, settings: Settings, start: float) -> IngestReport:
    store = Store.open(settings)
    report = IngestReport(store=store.where, action="move", collection=collection)
    finished = finish_moves(store, store.file_records())
    report.files += finished
    records = store.ingested()
    keys: dict[str, None] = {}  # in order, once each (paths may overlap)
    for path in paths:
        root = file_key(Path(path).expanduser())
        matched = [k for k in sorted(records) if is_under(k, root)]
        if not matched:
            report.files.append(FileResult(str(path), "failed", "not in the store"))
        keys.update(dict.fromkeys(matched))
    todo = [k for k in keys if collection_of(records[k]) != collection]
    report.files += [FileResult(k, "unchanged", documents=_documents(records[k]),
                                chunks=int(records[k].get("chunks", 0) or 0)) for k in keys if k not in todo]
    if todo:
        if not finished:
            store.bump_generation()  # readers' snapshots are stale from the first change on
        chunks = store.move_files(todo, collection)
        report.files += [FileResult(k, "moved", documents=_documents(records[k]), chunks=chunks[k]) for k in todo]
    if todo or finished:
        publish(store)
    report.chunks_in_store = store.count()
    report.seconds = time.perf_counter() - start
    return report


def finish_moves(store: Store, records: dict[str, dict[str, Any]]) -> list[FileResult]:
    """The moves a killed run left marked, finished to the collection each record names (the
    generation bumped first); what was finished, for the report."""
    marked: dict[str, list[str]] = {}
    for key, record in sorted(records.items()):
        if record.get(MOVING) and not record.get(REMOVING):
            marked.setdefault(collection_of(record), []).append(key)
    if not marked:
        return []
    store.bump_generation()
    done: list[FileResult] = []
    for target, keys in marked.items():
        chunks = store.move_files(keys, target)
        done += [FileResult(k, "moved", f"a move to {target!r} cut short, finished",
                            documents=_documents(records[k]), chunks=chunks[k]) for k in keys]
    return done


def _documents(record: dict[str, Any]) -> int:
    return int(record.get("documents", 1) or 0)

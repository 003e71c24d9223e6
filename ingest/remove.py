"""Removing files from the store on request (`assistant remove`), whether or not they are
still on disk: a file ingested by mistake, or one that must no longer be quoted.

Removal takes the file out of the store, not off the disk: ingesting its folder again adds it
back, as `sync` keeps the store equal to the folder. The chat removes its own uploads from the
archive folder as well (assistant/app/uploads.py).

Crash safety: each file's record is marked before its chunks are deleted (Store.delete_files),
so a run killed half way leaves a file that the next removal finishes and the next ingestion of
its folder re-ingests in full; never a record of a file whose chunks are gone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.index.locks import writing
from assistant.index.manifest import collection_of
from assistant.index.meta import check_collection
from assistant.index.store import Store
from assistant.settings import Settings
from ingest.files import file_key, is_under
from ingest.report import FileResult, IngestReport
from ingest.writer import publish


def remove(paths: Iterable[str | Path], settings: Settings | None = None, *, wait: bool = False,
           collection: str | None = None, **overrides: Any) -> IngestReport:
    """Remove the stored files at `paths` (a file, or every stored file under a folder) and
    their chunks; with `collection`, only the files of that archive collection. A path that
    matches nothing stored (there) is reported as failed; the rest go. StoreBusyError if another
    process is writing the store (assistant/index/locks.py), unless `wait`: then after it."""
    if collection is not None:
        check_collection(collection)
    settings = (settings or Settings.load()).replace(**overrides)
    with writing(settings, "a removal", wait):
        return _remove(list(paths), settings, time.perf_counter(), collection)


def _remove(paths: list[str | Path], settings: Settings, start: float, collection: str | None) -> IngestReport:
    store = Store.open(settings)
    records = store.file_records()
    report = IngestReport(store=store.where, action="remove")
    keys: dict[str, None] = {}  # in order, once each (paths may overlap)
    for path in paths:
        root = file_key(Path(path).expanduser())
        matched = [k for k in sorted(records) if is_under(k, root)
                   and (collection is None or collection_of(records[k]) == collection)]
        if not matched:
            where = "the store" if collection is None else f"the collection {collection!r}"
            report.files.append(FileResult(str(path), "failed", f"not in {where}"))
        keys.update(dict.fromkeys(matched))
    if keys:
        store.bump_generation()  # readers' snapshots are stale from the first delete on
        chunks = store.delete_files(list(keys))
        report.files += [FileResult(key, "removed", documents=int(records[key].get("documents", 0) or 0),
                                    chunks=chunks[key]) for key in keys]
        publish(store)
    report.chunks_in_store = store.count()
    report.seconds = time.perf_counter() - start
    return report

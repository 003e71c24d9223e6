"""Uploads from the chat: saved safely into the archive folder, then ingested, one run at a time;
and taken out again (from the store and the folder) when staff remove them.

The client names a file; it never chooses where it goes. A name is reduced to a plain base
name (no folders, no leading dots), so nothing is written outside the archive folder; a
symbolic link of that name is never written through; a file of the same name but other
content is kept and the upload saved beside it ("name (2).pdf"), so no upload overwrites one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import IngestError, StoreError
from assistant.settings import Settings

_INGESTING = threading.Lock()  # one ingestion at a time in this process
_UNSAFE = re.compile(r"[^\w.\- ()]+", flags=re.UNICODE)
MAX_NAME = 120
MAIN = "main"  # the collection files belong to unless told otherwise


def accepted_types() -> list[str]:
    """File suffixes ingestion reads (".pdf", ".md", ...)."""
    from ingest.readers import READERS

    return sorted(READERS)


def safe_name(name: str) -> str:
    """A base name that cannot leave its folder: '../../etc/passwd' -> 'passwd'."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if dot and len(base) > MAX_NAME:
        base = stem[: MAX_NAME - len(suffix) - 1] + "." + suffix
    return base[:MAX_NAME] or "upload"


@dataclass
class Saved:
    """What became of each uploaded file before ingestion."""

    paths: list[Path] = field(default_factory=list)  # saved (or already there), to ingest
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    names: dict[Path, str] = field(default_factory=dict)  # saved path -> the name uploaded
    created: set[Path] = field(default_factory=set)  # written by this upload (not already there)


def upload_folder(settings: Settings, collection: str = MAIN) -> Path:
    """Where the chat saves a collection's uploads: the archive folder for `main` (as always), a
    folder of its own in it for any other, so one collection's upload never lands on (and moves)
    a file of another."""
    root = settings.archive_folder()
    return root if collection == MAIN else root / safe_name(collection)


def save_uploads(files: Sequence[tuple[str, str | Path]], settings: Settings, collection: str = MAIN) -> Saved:
    """Copy (client name, temporary path) pairs into the collection's upload folder."""
    folder = upload_folder(settings, collection)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    limit = settings.max_file_mb * 1024 * 1024
    types = set(accepted_types())
    out = Saved()
    for client_name, tmp in files:
        name = safe_name(client_name)
        src = Path(tmp)
        suffix = Path(name).suffix.lower()
        try:
            if suffix not in types:
                raise IngestError(f"unsupported file type {suffix or '(none)'}; accepted: {', '.join(sorted(types))}")
            size = src.stat().st_size
            if size > limit:
                raise IngestError(f"file is {size / 2**20:.1f} MB, over the {settings.max_file_mb:g} MB limit")
            dest = _destination(root, name, _sha256(src))
        except IngestError as e:
            out.refused.append((client_name, str(e)))
            continue
        except OSError as e:
            out.refused.append((client_name, f"cannot read the upload ({e.strerror or e})"))
            continue
        if not dest.exists():
            _write(src, dest)
            out.created.add(dest)
        out.paths.append(dest)
        out.names[dest] = client_name
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _destination(root: Path, name: str, sha: str) -> Path:
    """`name` in root, or `name (k)` when another file holds that name; the existing path when
    the same content is already there (re-uploading is a no-op)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for k in range(1, 1000):
        dest = root / (name if k == 1 else f"{stem} ({k}){suffix}")
        if dest.parent != root:  # cannot happen with a safe name; checked all the same
            raise IngestError("the file name leaves the archive folder")
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            continue  # never write through a link, nor over a folder
        if not dest.exists() or _sha256(dest) == sha:
            return dest
    raise IngestError(f"too many files named {name} in the archive")


def _write(src: Path, dest: Path) -> None:
    # Written beside the target, then renamed: a reader (or ingestion) never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
            shutil.copyfileobj(fh, out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class UploadResult:
    rows: list[tuple[str, str, str]]  # (name as uploaded, status, reason)
    summary: str
    ok: bool


def ingest_uploads(files: Sequence[tuple[str, str | Path]], settings: Settings,
                   on_start: Callable[[], None] = lambda: None, collection: str = MAIN) -> UploadResult:
    """Save the uploads and ingest them into `collection`; files that fail to ingest are not kept
    in the archive. Whether the caller may write there is the caller's check (assistant.app.access)."""
    from ingest import ingest

    saved = save_uploads(files, settings, collection)
    rows = [(name, "refused", reason) for name, reason in saved.refused]
    if not saved.paths:
        return UploadResult(rows, f"Nothing ingested: {len(rows)} file(s) refused.", False)
    with _INGESTING:
        on_start()
        try:
            report = ingest(saved.paths, settings, quiet=False, collection=collection)
        except StoreError as e:  # another process is writing the store, or it cannot be opened
            for path in saved.created:
                path.unlink(missing_ok=True)  # not ingested, so not kept: as for a file that fails
            rows += [(saved.names[path], "failed", str(e)) for path in saved.paths]
            return UploadResult(rows, f"Nothing ingested: {e}", False)
    by_key = {Path(r.path).resolve(): r for r in report.files}
    for path in saved.paths:
        result = by_key.get(path.resolve())
        if result is None:
            continue
        if result.status in ("failed", "skipped") and path in saved.created:
            path.unlink(missing_ok=True)  # kept out of the archive, so a later sync does not retry it
        rows.append((saved.names[path], result.status, result.reason))
    # A file with scanned pages and no OCR here is kept: its other pages are in, and a later
    # sync with OCR installed reads the rest (its row says so).
    done = sum(1 for _, s, _ in rows if s in ("added", "updated", "unchanged", "moved", "needs-ocr"))
    waiting = sum(1 for _, s, _ in rows if s == "needs-ocr")
    summary = (f"{done} of {len(files)} file(s) in the archive" +
               (f" ({waiting} with scanned pages waiting for OCR)" if waiting else "") +
               f"; {report.chunks_embedded} chunks embedded, {report.chunks_in_store:,} in the store "
               f"({report.seconds:.1f} s).")
    return UploadResult(rows, summary, done == len(files))


def uploaded(paths: Sequence[str], settings: Settings) -> list[str]:
    """The stored files (file keys) that are uploads: files directly in the archive folder, or in
    a collection's folder in it."""
    root = settings.archive_folder().resolve()
    return [p for p in paths if root in (Path(p).parent, Path(p).parent.parent)]


def remove_uploads(paths: Sequence[str], settings: Settings) -> UploadResult:
    """Take uploaded files out of the store, then out of the archive folder, so that a later
    sync does not bring them back. Other stored files are refused: the chat did not add them,
    and the next ingestion of their folder would (`assistant remove` is for those)."""
    from ingest import remove

    mine = uploaded(paths, settings)
    rows = [(_name(p), "refused", "not an upload; `assistant remove` takes it out") for p in paths if p not in mine]
    if not mine:
        return UploadResult(rows, "Nothing removed: choose uploaded files first." if not rows else
                            f"Nothing removed: {len(rows)} file(s) refused.", False)
    with _INGESTING:
        try:
            report = remove(mine, settings)
        except StoreError as e:
            return UploadResult(rows + [(_name(p), "failed", str(e)) for p in mine], f"Nothing removed: {e}", False)
        for result in report.removed:
            path = Path(result.path)
            if path.is_file() and not path.is_symlink():  # a link's target was never ours
                path.unlink(missing_ok=True)
    rows += [(_name(r.path), r.status, r.reason) for r in report.files]
    summary = (f"{len(report.removed)} of {len(paths)} file(s) removed, {sum(r.chunks for r in report.removed)} "
               f"chunks; {report.chunks_in_store:,} in the store.")
    return UploadResult(rows, summary, len(report.removed) == len(paths))


def _name(path: str) -> str:
    return Path(path).name or path

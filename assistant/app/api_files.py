"""The archive's files over HTTP: `/api/file` (an ingested file itself, for the chat's source
links) and `/api/page` (one PDF page drawn with the cited sentences marked). Both serve only
files the store holds in the caller's collections, answer 404 alike for the rest, and audit."""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.exceptions import HTTPException

from assistant.app import page_view
from assistant.app.access import Access, Visit


def router(access: Access) -> APIRouter:
    r = APIRouter()

    @r.get("/api/file")
    def file(path: str, request: Request) -> StreamingResponse:
        """An ingested file (only those the store holds, in the caller's collections), for the chat's
        source links."""
        visit = Visit.of(request)
        found = next((f for f in access.assistant(visit).files() if f.path == path), None)
        if found is None:  # the same answer for a file elsewhere as for none: nothing to learn
            access.record(visit, "file-read", "/api/file", 404)
            raise HTTPException(404, "The archive holds no such file.")
        handle = open_plain_file(path)
        access.record(visit, "file-read", "/api/file", collections=[found.collection])
        target = Path(path)
        # Shown as text or PDF, never as HTML: a document's scripts must not run in this origin.
        kind = "application/pdf" if target.suffix.lower() == ".pdf" else \
            "text/plain; charset=utf-8" if _is_text(target) else \
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        inline = kind.startswith(("text/plain", "application/pdf"))
        headers = {"X-Content-Type-Options": "nosniff", "Content-Length": str(os.fstat(handle.fileno()).st_size),
                   "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''"
                                          f"{quote(target.name)}"}
        if not kind.startswith("application/pdf"):
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return StreamingResponse(_chunks(handle), media_type=kind, headers=headers)

    @r.get("/api/page")
    def page_image(path: str, page: int, request: Request, mark: Annotated[list[str] | None, Query()] = None,
                   kind: Annotated[str, Query(alias="format")] = "png") -> Response:
        """One page of an ingested PDF drawn as a PNG, each `mark` (a sentence) highlighted where it
        stands; `format=json`: where the marks are. Found, refused and audited as /api/file is."""
        visit = Visit.of(request)
        found = next((f for f in access.assistant(visit).files() if f.path == path), None)
        if found is None:
            access.record(visit, "file-read", "/api/page", 404)
            raise HTTPException(404, "The archive holds no such file.")
        try:
            page_view.check(path, page, mark or [], kind)
            with open_plain_file(path) as handle:
                drawn = page_view.draw(handle, page, mark or [])
        except HTTPException as e:
            access.record(visit, "file-read", "/api/page", e.status_code, [found.collection])
            raise
        access.record(visit, "file-read", "/api/page", collections=[found.collection])
        return page_view.respond(drawn, path, kind)

    return r


def open_plain_file(path: str) -> BinaryIO:
    """The file itself, opened without following a link (at its end or on its way: ingestion
    records resolved paths) and only if it is a regular file, so a stored file swapped for a link
    to /etc/passwd, a FIFO or a device is not served. Opened once, then checked: no race."""
    if os.path.realpath(path) != path:
        raise HTTPException(404, "The file is no longer on disk as it was ingested (it is now a link).")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise HTTPException(404, "The file is no longer on disk.") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise HTTPException(404, "The file is no longer a plain file on disk.")
    return os.fdopen(fd, "rb")


def _chunks(handle: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    with handle:
        while block := handle.read(size):
            yield block


def _is_text(path: Path) -> bool:
    return path.suffix.lower() in (".md", ".markdown", ".txt", ".jsonl", ".html", ".htm", ".eml", ".csv")

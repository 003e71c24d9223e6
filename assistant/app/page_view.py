"""The HTTP side of `GET /api/page` (the route is in api.py, beside /api/file): what a request
may ask for, and the page as a PNG or as JSON. Drawing is assistant.app.page_worker's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from assistant.app.page_image import PageImage, PageUnavailable
from assistant.app.page_worker import pages

MAX_MARKS, MAX_MARK_CHARS = 20, 2000  # an answer cites a few sentences of one passage
FORMATS = ("png", "json")
KEEP_S = 300  # the browser may reuse a drawn page this long: a file re-ingested meanwhile is rare


def check(path: str, page: int, marks: Sequence[str], kind: str) -> None:
    """A request for something that cannot be drawn gets a 400 that says why."""
    if kind not in FORMATS:
        raise HTTPException(400, f"format is {' or '.join(FORMATS)}, not {kind!r}.")
    if not path.lower().endswith(".pdf"):
        raise HTTPException(400, "Only PDF pages are drawn; /api/file serves the file itself.")
    if page < 1:
        raise HTTPException(400, "Pages are numbered from 1.")
    if len(marks) > MAX_MARKS or any(len(m) > MAX_MARK_CHARS for m in marks):
        raise HTTPException(400, f"At most {MAX_MARKS} marks of {MAX_MARK_CHARS:,} characters each.")


def draw(handle: BinaryIO, page: int, marks: Sequence[str]) -> PageImage:
    try:
        return pages().draw(handle, page, marks)
    except PageUnavailable as e:
        raise HTTPException(e.status, str(e)) from None


def respond(drawn: PageImage, path: str, kind: str) -> Response:
    """The page as a PNG, with what the JSON says of its marks in headers; or that JSON."""
    if kind == "json":
        return JSONResponse({"path": path, **drawn.to_dict()}, headers={"Cache-Control": f"private, max-age={KEEP_S}"})
    top = drawn.first_mark_top
    name = f"{Path(path).stem}-page-{drawn.page}.png"
    headers = {"Cache-Control": f"private, max-age={KEEP_S}", "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
               "X-Page-Count": str(drawn.pages), "X-Marks-Found": f"{len(drawn.found)} of {len(drawn.marks)}",
               **({"X-First-Mark-Top": f"{top:.4f}"} if top is not None else {})}
    return Response(drawn.png, media_type="image/png", headers=headers)

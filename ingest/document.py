"""What readers produce: a document as page-numbered text plus its metadata."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ingest.tables import TableSpan


@dataclass
class Document:
    """One document. `pages` is [(page, text)]; page is 1-based for paged formats, else None."""

    doc_id: str
    pages: list[tuple[int | None, str]]
    title: str = ""
    date: str | None = None
    source: str | None = None
    url: str | None = None
    kind: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # Scanned pages (ingest/readers/scan.py): those read by OCR, with the engine's confidence
    # (0-1; their chunks say so); those waiting for an OCR engine this machine lacks (the file is
    # reported as needing OCR, and read again once one is there); those a limit kept from OCR.
    ocr: dict[int, float | None] = field(default_factory=dict)
    needs_ocr: list[int] = field(default_factory=list)
    unread: dict[int, str] = field(default_factory=dict)
    # Where each page's tables are in its text (ingest/tables.py): chunks keep rows whole.
    tables: dict[int | None, list[TableSpan]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(t for _, t in self.pages)

    def content_hash(self) -> str:
        h = hashlib.sha256()
        for key in (self.doc_id, self.title, self.date, self.source, self.url):
            h.update((key or "").encode() + b"\0")
        for page, text in self.pages:
            h.update(f"{page}\0".encode() + text.encode() + b"\0")
        if self.ocr:  # left out without OCR: the hashes (so chunk ids) of stores before it stay
            h.update(repr(sorted(self.ocr.items())).encode())
        return h.hexdigest()

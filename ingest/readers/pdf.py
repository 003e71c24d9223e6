"""PDF reports: text per page (1-based page numbers), with PDFium; empty-password encryption is fine.

Limits: the page count PDFium reports is checked before any page is read (a 12.7 KB PDF whose
page tree repeats one page declares a million pages, each of them readable: 35 s of parsing,
then a million chunks to embed); the text read so far against `max_inflated_mb`, and the time
against `max_file_seconds`, after every page. A single page is one PDFium call that cannot be
stopped midway: hence the worker process, whose memory is capped (`max_parse_mb`) and which is
killed at the deadline."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits


def read_pdf(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    """The PDF read in the parse worker (ingest/readers/isolated.py): PDFium's memory is capped
    there and a parse past its deadline killed, so no PDF can take the process down."""
    if not data.startswith(b"%PDF") and b"%PDF" not in data[:1024]:
        raise IngestError("not a PDF (no %PDF header)")
    from ingest.readers.isolated import parse

    return parse("ingest.readers.pdf:read_pdf_here", path, data, (limits or Limits.from_settings()).started())


def read_pdf_here(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    """The PDF read in this process (the worker's side of `read_pdf`)."""
    import pypdfium2 as pdfium

    limits = (limits or Limits.from_settings()).started()
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        reason = str(e).split(":")[-1].strip() or "unreadable"
        raise IngestError(f"corrupt or unreadable PDF ({reason})") from None
    try:
        count = len(pdf)
        limits.check_pages(count)
        pages: list[tuple[int | None, str]] = []
        size = 0
        for i in range(count):
            limits.check_time(f"at page {i + 1:,} of {count:,}")
            page = pdf[i]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n").strip()
            textpage.close()
            page.close()
            if text:
                pages.append((i + 1, text))
                size += len(text)
                limits.check_inflated("the PDF's text", size)
        meta = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    if not pages:
        raise IngestError("the PDF has no extractable text (scanned images?)")
    return [Document(doc_id=str(path), pages=pages, title=pdf_title(meta.get("Title"), path),
                     date=meta.get("CreationDate"), source=meta.get("Author"), kind="pdf")]


_AUTHORING = re.compile(r"^microsoft (?:word|excel|powerpoint) - |\.(?:docx?|xlsx?|pptx?|pdf)$", re.I)


def pdf_title(title: str | None, path: Path) -> str:
    """The PDF's own title where it reads as one, else its file name. Titles in PDF metadata
    are often a filing's accession number ("0001562762-21-000023"), a placeholder ("Document")
    or the authoring program's file name ("Microsoft Word - F20_10K_VFinal"); the title is
    shown to readers and embedded with every chunk, and "CORNING 2020 10K" says which report a
    page is from where those do not."""
    clean = " ".join(_AUTHORING.sub("", (title or "").strip()).split())
    # Two words of letters at least: not an ID, a file name or a code ("ADBE 10K FY15" gives
    # way to "ADOBE 2015 10K", "10-K - 02/07/2019 - 3M Company" to "3M 2018 10K").
    if len(re.findall(r"[^\W\d_]{2,}", clean)) >= 2:
        return clean
    return " ".join(path.stem.replace("_", " ").split())

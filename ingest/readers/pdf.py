"""PDF reports: text per page (1-based page numbers), with PDFium; empty-password encryption is fine.

Limits: the page count PDFium reports is checked before any page is read (a 12.7 KB PDF whose
page tree repeats one page declares a million pages, each of them readable: 35 s of parsing,
then a million chunks to embed); the text read so far against `max_inflated_mb`, and the time
against `max_file_seconds`, after every page. A single page is one PDFium call that cannot be
stopped midway: hence the worker process, whose memory is capped (`max_parse_mb`) and which is
killed at the deadline. Scanned pages are read by OCR there too (ingest/readers/scan.py): each
adds its time to the deadline, and there are at most `max_ocr_pages` of them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits
from ingest.ocr import OcrText
from ingest.readers.isolated import extend
from ingest.readers.pdf_tables import maybe_tables, page_tables
from ingest.readers.scan import PAGE_SECONDS, check_page, ocr_scale, read_pages, too_large
from ingest.tables import TableSpan


def read_pdf(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    """The PDF read in the parse worker (ingest/readers/isolated.py): PDFium's memory is capped
    there and a parse past its deadline killed, so no PDF can take the process down."""
    if not data.startswith(b"%PDF") and b"%PDF" not in data[:1024]:
        raise IngestError("not a PDF (no %PDF header)")
    from ingest.readers.isolated import parse

    return parse("ingest.readers.pdf:read_pdf_here", path, data, (limits or Limits.from_settings()).started())


def read_pdf_here(path: Path, data: bytes, limits: Limits | None = None, tables: bool = True) -> list[Document]:
    """The PDF read in this process (the worker's side of `read_pdf`); `tables`: written as rows
    (ingest/readers/pdf_tables.py), off only to measure what that costs."""
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
        found: dict[int | None, list[TableSpan]] = {}
        scans: list[int] = []  # pages that need OCR
        size = 0
        for i in range(count):
            limits.check_time(f"at page {i + 1:,} of {count:,}")
            page = pdf[i]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n").strip()
            if tables and maybe_tables(text):
                text, spans = _with_tables(textpage, text)
                if spans:
                    found[i + 1] = spans
            textpage.close()
            scanned = check_page(page, text).needs_ocr
            page.close()
            if scanned:
                scans.append(i + 1)
            elif text:
                pages.append((i + 1, text))
                size += len(text)
                limits.check_inflated("the PDF's text", size)
        ocr, needs_ocr, unread = _read_scans(pdf, scans, limits, size)
        meta = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    pages = sorted(pages + [(n, got.text) for n, got in ocr.items() if got.text], key=lambda p: p[0] or 0)
    if not pages and not needs_ocr:
        raise IngestError("the PDF has no extractable text" + (
            f": its {len(scans):,} scanned pages {'were read by OCR and hold none' if ocr else 'were not read'}"
            + "".join(f"; page {n}: {why}" for n, why in list(unread.items())[:3]) if scans else ""))
    return [Document(doc_id=str(path), pages=pages, title=pdf_title(meta.get("Title"), path),
                     date=meta.get("CreationDate"), source=meta.get("Author"), kind="pdf",
                     ocr={n: got.confidence for n, got in ocr.items() if got.text}, needs_ocr=needs_ocr,
                     unread=unread, tables=found)]


def _with_tables(textpage: Any, text: str) -> tuple[str, list[TableSpan]]:
    """The page's text with its tables as rows; as it was where none is found."""
    found, spans = page_tables(textpage, textpage.get_text_range())
    return (found, spans) if spans else (text, [])


def _read_scans(pdf: Any, scans: list[int], limits: Limits,
                size: int) -> tuple[dict[int, OcrText], list[int], dict[int, str]]:
    """The scanned pages read by OCR; those waiting for an engine (none here: all of them); those
    too large to read. Over `max_ocr_pages`, the file is refused before any page is read."""
    if not scans:
        return {}, [], {}
    limits.check_ocr_pages(len(scans), len(pdf))
    if limits.ocr.missing() is not None:
        return {}, scans, {}
    unread: dict[int, str] = {}
    readable: list[int] = []
    for n in scans:
        page = pdf[n - 1]
        if ocr_scale(page) is None:
            unread[n] = too_large(page)
        else:
            readable.append(n)
        page.close()
    if readable:  # each page to read gets its time, here and in the parent's wait
        extend(len(readable) * PAGE_SECONDS)
        limits = limits.extended(len(readable) * PAGE_SECONDS)
    got = read_pages(pdf, readable, limits)
    limits.check_inflated("the PDF's text", size + sum(len(t.text) for t in got.values()))
    return got, [], unread

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

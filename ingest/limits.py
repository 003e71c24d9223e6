"""What one file may cost to ingest: how far it inflates, its pages, its chunks, its parse time,
its pages read by OCR (and how OCR reads them: `ocr`, which travels with the limits to the worker).

A file within `max_file_mb` can still be a bomb: a 3.4 MB Word file inflating to gigabytes, a
12.7 KB PDF declaring a million pages. Each limit stops the file alone, with one line that
names the setting to raise; the run goes on with the next file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from assistant.errors import IngestError
from assistant.settings import Settings
from ingest.ocr import OcrOptions


@dataclass(frozen=True)
class Limits:
    inflated_mb: float
    pages: int
    chunks: int
    file_seconds: float
    deadline: float | None = None  # time.monotonic() by which parsing must end (see `started`)
    parse_mb: float = 2048.0  # address space of the worker that parses PDFs (readers/isolated.py)
    ocr_pages: int = 100  # pages of one file that may be read by OCR
    ocr: OcrOptions = OcrOptions()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        """The limits `settings` set (default: the settings' defaults)."""
        s = settings or Settings()
        return cls(s.max_inflated_mb, s.max_pages, s.max_chunks, s.max_file_seconds, parse_mb=s.max_parse_mb,
                   ocr_pages=s.max_ocr_pages, ocr=OcrOptions(s.ocr_engine, s.ocr_languages, s.ocr_threads))

    def started(self) -> Limits:
        """These limits with the parse clock running: from now, unless it already runs."""
        if self.deadline is not None:
            return self
        return replace(self, deadline=time.monotonic() + self.file_seconds)

    def extended(self, seconds: float) -> Limits:
        """These limits with `seconds` more to parse (a file's pages to read by OCR)."""
        started = self.started()
        return replace(started, deadline=(started.deadline or 0.0) + seconds, file_seconds=self.file_seconds + seconds)

    def check_ocr_pages(self, pages: int, total: int) -> None:
        if pages > self.ocr_pages:
            raise IngestError(f"{pages:,} of the PDF's {total:,} pages are scanned images, over the limit of "
                              f"{self.ocr_pages:,} pages read by OCR per file (setting max_ocr_pages)")

    def check_time(self, where: str) -> None:
        """Stop a parse that has run past `max_file_seconds`; `where` says how far it got."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise IngestError(f"parsing took over {self.file_seconds:g} s, the limit (setting "
                              f"max_file_seconds); stopped {where}")

    def check_inflated(self, what: str, size: int) -> None:
        """Refuse `what` (e.g. "the archive") inflating to `size` bytes, over `max_inflated_mb`."""
        if size > self.inflated_mb * 2**20:
            raise IngestError(f"{what} inflates to {mb(size)} MB, over the {self.inflated_mb:g} MB limit "
                              "(setting max_inflated_mb)")

    def check_pages(self, pages: int) -> None:
        if pages > self.pages:
            raise IngestError(f"the PDF has {pages:,} pages, over the {self.pages:,} page limit "
                              "(setting max_pages)")

    def check_chunks(self, count: int, records: bool = False) -> None:
        """Refuse a file once it makes more than `max_chunks` chunks, or holds more records (each
        makes one chunk at least)."""
        if count > self.chunks:
            raise IngestError(f"the file holds more than {self.chunks:,} records, one chunk each at least: over "
                              f"the limit of {self.chunks:,} chunks (setting max_chunks)" if records else
                              f"the file makes more than {self.chunks:,} chunks, the limit (setting max_chunks)")


def mb(size: int) -> str:
    """Bytes as megabytes: "1,024", "32", "1.5"."""
    return f"{size / 2**20:,.0f}" if size >= 10 * 2**20 else f"{size / 2**20:.1f}".removesuffix(".0")

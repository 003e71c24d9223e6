"""Scanned PDF pages: which need OCR, and reading them (in the parse worker, so PDFium's
rendering is under its memory cap and deadline; the engine is ingest/ocr.py).

A page needs OCR when its text layer is missing or garbage while an image covers much of it
(a scan, perhaps under a stamped digital header), or when most of its characters are glyphs
PDFium could not map to Unicode (a broken font: the page renders, its text does not)."""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assistant.errors import IngestError
from ingest.limits import Limits
from ingest.ocr import OcrText, read_image

DPI = 200  # 200 dpi scans rendered at 300: fewer words right, 1.9x slower (benchmarks/results/ocr-engines.md)
# A page rendered for OCR may have this many pixels (one byte each, grey): A3 at 300 dpi is 17
# million, a 36 x 48 in poster at 200 dpi 69 million; a 200 x 200 in page at 300 dpi would be 3.6
# billion, and is refused instead.
MAX_PIXELS = 60_000_000
MIN_DPI = 150  # below this, small print is unreadable: a larger page is refused, not read badly
LETTERS_PER_SQ_IN = 1.0  # a text page has 20 to 40; a scan with a stamped header under 1
IMAGE_COVER = 0.5  # share of the page that images must cover for a sparse page to be a scan
GARBAGE = 0.3  # share of a page's characters that are unmappable glyphs
MAX_OBJECTS = 2000  # objects looked at per page: a page of thousands of tiny images is cut short
PAGE_SECONDS = 60.0  # the time one page's OCR may add to the parse (ingest/readers/isolated.py)
_BAD = {"\ufffd", "\ufffe", "\uffff"}


@dataclass(frozen=True)
class PageCheck:
    """What a page's text layer and objects say: its letters, its unmappable characters,
    its area in square inches and the share of it that images cover."""

    letters: int
    chars: int
    bad: int
    sq_in: float
    image_cover: float

    @property
    def garbage(self) -> bool:
        return self.chars > 0 and self.bad / self.chars > GARBAGE

    @property
    def needs_ocr(self) -> bool:
        sparse = self.letters < LETTERS_PER_SQ_IN * self.sq_in
        return self.garbage or (sparse and self.image_cover >= IMAGE_COVER)


def check_text(text: str, sq_in: float, image_cover: float) -> PageCheck:
    chars = [c for c in text if not c.isspace()]
    bad = sum(1 for c in chars if c in _BAD or "\ue000" <= c <= "\uf8ff" or (c < " "))
    return PageCheck(sum(1 for c in chars if c.isalpha()), len(chars), bad, sq_in, image_cover)


def check_page(page: Any, text: str) -> PageCheck:
    """`page`: a pypdfium2 PdfPage; `text`: its text layer."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    area = max(width * height, 1.0)
    cover = 0.0
    if len(text) < 4 * area / 72**2:  # only a sparse page can be a scan: the others are not walked
        for n, obj in enumerate(page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=3)):
            if n >= MAX_OBJECTS or cover >= 1.0:
                break
            left, bottom, right, top = obj.get_bounds()
            w, h = min(right, width) - max(left, 0), min(top, height) - max(bottom, 0)
            cover += max(w, 0) * max(h, 0) / area
    return check_text(text, area / 72**2, min(cover, 1.0))


def ocr_scale(page: Any) -> float | None:
    """The render scale for OCR: DPI, or less down to MIN_DPI for a large page; None for a page
    too large to read at MIN_DPI within MAX_PIXELS."""
    width, height = page.get_size()
    scale = min(DPI / 72, math.sqrt(MAX_PIXELS / max(width * height, 1.0)))
    return scale if scale >= MIN_DPI / 72 else None


def too_large(page: Any) -> str:
    width, height = page.get_size()
    return (f"{width / 72:,.0f} x {height / 72:,.0f} in, too large to OCR at {MIN_DPI} dpi within "
            f"{MAX_PIXELS / 1e6:g} million pixels")


def read_pages(pdf: Any, numbers: list[int], limits: Limits) -> dict[int, OcrText]:
    """The 1-based pages `numbers` of `pdf` (a PdfDocument), rendered one at a time (PDFium is
    not thread-safe) and read by as many engines at once as `limits.ocr.workers()` allows; at
    most that many page images are held. Stops at the deadline (IngestError)."""
    options = limits.ocr
    workers = options.workers()
    out: dict[int, OcrText] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        running: dict[int, Future[OcrText]] = {}
        for number in numbers:
            limits.check_time(f"reading page {number:,} by OCR")
            page = pdf[number - 1]
            try:
                scale = ocr_scale(page)
                if scale is None:
                    continue
                image = page.render(scale=scale, grayscale=True, may_draw_forms=True).to_pil()
            finally:
                page.close()
            running[number] = pool.submit(read_image, image, options, _left(limits))
            del image
            while len(running) >= workers:
                _collect(running, out)
        while running:
            _collect(running, out)
    return out


def _left(limits: Limits) -> float:
    return max(1.0, (limits.deadline or time.monotonic() + PAGE_SECONDS) - time.monotonic())


def _collect(running: dict[int, Future[OcrText]], out: dict[int, OcrText]) -> None:
    number = next(iter(running))
    try:
        out[number] = running.pop(number).result()
    except RuntimeError as e:  # pytesseract's timeout, or Tesseract failing (TesseractError)
        if "timeout" in str(e).lower():
            raise IngestError(f"OCR of page {number:,} ran past the parse deadline (setting max_file_seconds; "
                              f"each page to OCR adds {PAGE_SECONDS:g} s to it)") from e
        raise IngestError(f"OCR failed on page {number:,} ({str(e)[:200]})") from e

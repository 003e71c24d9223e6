"""One PDF page drawn as a PNG with PDFium, the sentences an answer rests on marked where they
stand: the chat's view of a cited page and `GET /api/page`. This module draws in the calling
process; the server calls it through assistant.app.page_worker, whose process is capped.

A sentence is found on the page by its letters and digits alone (case folded, NFKC), so the
line breaks, hyphens and spaces that differ between the stored chunk and PDFium's text page do
not matter; the matched characters' rectangles come from PDFium (FPDFText_CountRects). A scanned
page has no text layer: its marks come from the boxes of the words OCR reads (page_ocr)."""

from __future__ import annotations

import ctypes
import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.app.page_ocr import SCANNED_CHARS, ocr_boxes

# The bitmap's bounds: 2x (144 dpi) for an ordinary page, sharp on a high-density screen, but
# never more than MAX_SIDE pixels on a side or MAX_PIXELS in all (a 200-inch page renders small).
SCALE = 2.0
MAX_SIDE = 2000
MAX_PIXELS = 2_500_000
MIN_KEY = 8  # a sentence of fewer letters and digits than this would be found anywhere
PAD = 2  # pixels around each marked line, so the mark covers ascenders and descenders
FILL = (250, 204, 21, 96)  # semi-transparent yellow: the text under it stays legible
EDGE = (202, 138, 4, 200)
_TRAILING = ".!?;:)]\"'\u201d\u2019"


class PageUnavailable(Exception):
    """The page cannot be drawn: a message for people and the HTTP status that fits it."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Mark:
    """One sentence asked for, and where it stands: boxes as fractions of the image (left, top,
    right, bottom), one per line it covers; none when it is not on the page."""

    text: str
    boxes: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.boxes)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "found": self.found, "boxes": [list(b) for b in self.boxes]}


@dataclass(frozen=True)
class PageImage:
    """A drawn page: the PNG, its size in pixels, the page's number and the file's page count,
    and each mark asked for."""

    png: bytes
    width: int
    height: int
    page: int
    pages: int
    marks: tuple[Mark, ...] = field(default_factory=tuple)

    @property
    def found(self) -> list[Mark]:
        return [m for m in self.marks if m.found]

    @property
    def missing(self) -> list[Mark]:
        return [m for m in self.marks if not m.found]

    @property
    def first_mark_top(self) -> float | None:
        """How far down the image the first marked line starts (0 to 1): where a viewer scrolls."""
        tops = [b[1] for m in self.marks for b in m.boxes]
        return min(tops) if tops else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `/api/page?format=json`: everything but the image itself."""
        return {"page": self.page, "pages": self.pages, "width": self.width, "height": self.height,
                "first_mark_top": self.first_mark_top, "marks": [m.to_dict() for m in self.marks]}


def scale_for(width_pt: float, height_pt: float) -> float:
    """The render scale for a page of this size (points), within MAX_SIDE and MAX_PIXELS."""
    width_pt, height_pt = max(width_pt, 1.0), max(height_pt, 1.0)
    scale = min(SCALE, MAX_SIDE / max(width_pt, height_pt), math.sqrt(MAX_PIXELS / (width_pt * height_pt)))
    # PDFium rounds each side up to whole pixels: shrink until the rounded bitmap fits too.
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > MAX_PIXELS or \
            max(math.ceil(width_pt * scale), math.ceil(height_pt * scale)) > MAX_SIDE:
        scale *= 0.999
    return scale


def render_page(data: bytes, page: int, marks: Sequence[str] = ()) -> PageImage:
    """Page `page` (1-based) of the PDF in `data`, each of `marks` highlighted where found."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise PageUnavailable("The file cannot be read as a PDF.") from None
    try:
        pages = len(pdf)
        if not 1 <= page <= pages:
            raise PageUnavailable(f"The file has {pages:,} page{'s' if pages != 1 else ''}: there is no page "
                                  f"{page:,}.", 404)
        sheet = pdf[page - 1]
        try:
            width_pt, height_pt = sheet.get_size()
            scale = scale_for(width_pt, height_pt)
            bitmap = sheet.render(scale=scale, rev_byteorder=True)
            image = bitmap.to_pil().convert("RGB")
            bitmap.close()
            found, chars = _find(sheet, marks, image.width, image.height)
            if chars < SCANNED_CHARS and any(not m.found for m in found):  # a scan: marks from OCR's boxes
                read = ocr_boxes(image, [m.text for m in found if not m.found], _key, MIN_KEY)
                found = [Mark(m.text, read.get(m.text, ())) if not m.found else m for m in found]
        finally:
            sheet.close()
    finally:
        pdf.close()
    _draw(image, [b for m in found for b in m.boxes])
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # level 6 took twice as long for 10% less
    return PageImage(out.getvalue(), image.width, image.height, page, pages, tuple(found))


def _key(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text`, case folded, and the index in `text` each came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if c.isalnum():
                out.append(c)
                where.append(i)
    return "".join(out), where


def _find(sheet: Any, marks: Sequence[str], width: int, height: int) -> tuple[list[Mark], int]:
    """Each mark found in the page's text layer, and how many characters that layer has."""
    import pypdfium2.raw as raw

    textpage = sheet.get_textpage()
    try:
        # One code unit per character index (get_text_range may insert or drop characters, which
        # would shift every index after them); a surrogate pair's halves are dropped by _key.
        count = textpage.count_chars()
        text = "".join(chr(raw.FPDFText_GetUnicode(textpage, i)) for i in range(count))
        page_key, where = _key(text)
        out = []
        for sentence in marks:
            key = _key(sentence)[0]
            at = page_key.find(key) if len(key) >= MIN_KEY else -1
            if at < 0:
                out.append(Mark(sentence))
                continue
            first, last = where[at], where[at + len(key) - 1]
            for ch in sentence.rstrip()[len(sentence.rstrip().rstrip(_TRAILING)):]:  # its closing . or ")
                if last + 1 < count and text[last + 1] == ch:
                    last += 1
            boxes = [_box(sheet, textpage.get_rect(r), width, height)
                     for r in range(textpage.count_rects(first, last - first + 1))]
            out.append(Mark(sentence, tuple(boxes)))
        return out, count
    finally:
        textpage.close()


def _box(sheet: Any, rect: tuple[float, float, float, float], width: int, height: int,
         ) -> tuple[float, float, float, float]:
    """A rectangle in page space (left, bottom, right, top) as fractions of the image: through
    FPDF_PageToDevice, which knows the page's rotation and where its box starts."""
    import pypdfium2.raw as raw

    left, bottom, right, top = rect
    xs, ys = [], []
    for px, py in ((left, bottom), (right, top)):
        x, y = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(sheet, 0, 0, width, height, 0, ctypes.c_double(px), ctypes.c_double(py), x, y)
        xs.append(x.value)
        ys.append(y.value)

    def clip(v: float) -> float:
        return round(min(max(v, 0.0), 1.0), 4)

    return (clip((min(xs) - PAD) / width), clip((min(ys) - PAD) / height),
            clip((max(xs) + PAD) / width), clip((max(ys) + PAD) / height))


def _draw(image: Any, boxes: Sequence[tuple[float, float, float, float]]) -> None:
    """The boxes painted over the image, translucent, in place."""
    if not boxes:
        return
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    w, h = image.size
    for left, top, right, bottom in boxes:
        pen.rectangle((left * w, top * h, right * w, bottom * h), fill=FILL, outline=EDGE,
                      width=max(1, round(w / 800)))
    image.paste(Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB"))

"""Marks on a scanned page: it has no text layer to find a sentence in, so the drawn page is
read by OCR (the same Tesseract as ingestion, ingest/ocr.py) and the sentence is found among
the words it read, each with its box. Only pages whose text layer is (nearly) empty are read:
OCR costs about a second and a half a page here, a text layer nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from assistant.settings import Settings
from ingest.ocr import OcrOptions, words_on

SCANNED_CHARS = 20  # a page with fewer text-layer characters than this is taken for a scan
OCR_SECONDS = 10.0  # within the page worker's deadline


def ocr_boxes(image: Any, sentences: Sequence[str], key: Callable[[str], tuple[str, list[int]]],
              min_key: int) -> dict[str, tuple[tuple[float, float, float, float], ...]]:
    """Each sentence found among the words OCR reads on `image` (PIL), as boxes (fractions of the
    image, one per line it covers); sentences not found are left out, as is everything when no
    OCR engine is installed (the page is still drawn, unmarked)."""
    settings = Settings.load()
    options = OcrOptions(settings.ocr_engine, settings.ocr_languages, 1)
    if not sentences or options.missing():
        return {}
    data = words_on(image, options.languages, OCR_SECONDS)
    words = [(w.strip(), (b, p, ln), (x, y, x + wd, y + h)) for w, b, p, ln, x, y, wd, h in zip(
        data["text"], data["block_num"], data["par_num"], data["line_num"], data["left"], data["top"],
        data["width"], data["height"]) if w.strip()]
    text = " ".join(w for w, _, _ in words)
    page_key, where = key(text)
    owner = [i for i, (w, _, _) in enumerate(words) for _ in range(len(w) + 1)]  # char -> word
    width, height = image.size
    out: dict[str, tuple[tuple[float, float, float, float], ...]] = {}
    for sentence in sentences:
        k = key(sentence)[0]
        at = page_key.find(k) if len(k) >= min_key else -1
        if at < 0:
            continue
        first, last = owner[where[at]], owner[where[at + len(k) - 1]]
        lines: dict[tuple[int, int, int], list[tuple[int, int, int, int]]] = {}
        for _, line, box in words[first:last + 1]:
            lines.setdefault(line, []).append(box)
        out[sentence] = tuple(
            (round(min(b[0] for b in boxes) / width, 4), round(min(b[1] for b in boxes) / height, 4),
             round(max(b[2] for b in boxes) / width, 4), round(max(b[3] for b in boxes) / height, 4))
            for boxes in lines.values())
    return out

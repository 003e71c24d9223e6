"""The OCR engine for scanned pages: Tesseract (Debian's `tesseract-ocr`), through pytesseract,
which runs the binary as a child process. Chosen over RapidOCR by benchmarks/ocr.py
(benchmarks/results/ocr-engines.md): 6x faster on one core, within 3 points of its word recall,
and Debian language packs for French, Spanish, Arabic and Khmer."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

ENGINES = ("tesseract", "none")
INSTALL = "`make ocr` (or `apt-get install tesseract-ocr tesseract-ocr-eng`) and `pip install pytesseract`"


@dataclass(frozen=True)
class OcrOptions:
    """How scanned pages are read: the engine ("tesseract", or "none" to read none), its
    languages ("eng", "eng+fra": Tesseract's codes), and the pages read at once (0: as many
    as there are idle cores, at most 4)."""

    engine: str = "tesseract"
    languages: str = "eng"
    threads: int = 0

    def missing(self) -> str | None:
        """Why these pages cannot be read here (with how to fix it), or None when they can."""
        if self.engine == "none":
            return "OCR is off (setting ocr_engine = \"none\")"
        if self.engine not in ENGINES:
            return f"unknown OCR engine {self.engine!r} (setting ocr_engine: {' or '.join(ENGINES)})"
        return _tesseract_missing(self.languages)

    def workers(self) -> int:
        """Pages OCR'd at once. On 2 cores busy with the encoder, a second Tesseract beside it
        made both slower; so by default only the cores the load average leaves idle."""
        if self.threads > 0:
            return self.threads
        cores = os.cpu_count() or 1
        idle = cores - math.ceil(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 1
        return max(1, min(4, idle))


def _tesseract_missing(languages: str) -> str | None:
    # Not cached: a long-lived process (the chat's parse worker) sees an engine installed since.
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return f"OCR needs the pytesseract package: {INSTALL}"
    binary = shutil.which("tesseract")
    if binary is None:
        return f"OCR is not installed (no `tesseract` on the PATH): {INSTALL}"
    try:
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"the OCR engine does not run ({e}): {INSTALL}"
    have = set(listed.split())
    lacking = [code for code in languages.split("+") if code and code not in have]
    if lacking:
        packs = " ".join(f"tesseract-ocr-{code.lower().replace('_', '-')}" for code in lacking)
        return f"OCR lacks the language(s) {', '.join(lacking)} (setting ocr_languages): `apt-get install {packs}`"
    return None


@dataclass(frozen=True)
class OcrText:
    """A page's text as OCR read it, in lines; `confidence` is the engine's mean word
    confidence, 0 to 1 (None when it read no word)."""

    text: str
    confidence: float | None


def read_image(image: Any, options: OcrOptions, timeout: float) -> OcrText:
    """One page image (PIL) read by Tesseract within `timeout` seconds (RuntimeError past it).
    One thread per Tesseract: parallelism is the caller's, page by page."""
    data = words_on(image, options.languages, timeout)
    lines: dict[tuple[int, int, int], list[str]] = {}
    scores: list[float] = []
    for word, conf, *where in zip(data["text"], data["conf"], data["block_num"], data["par_num"],
                                  data["line_num"]):
        if word.strip() and float(conf) >= 0:
            lines.setdefault((where[0], where[1], where[2]), []).append(word.strip())
            scores.append(float(conf))
    text = "\n".join(" ".join(words) for words in lines.values())
    return OcrText(text, round(sum(scores) / len(scores) / 100, 3) if scores else None)



def words_on(image: Any, languages: str, timeout: float) -> dict[str, list[Any]]:
    """Tesseract's words on a page image, each with its box, line and confidence (pytesseract's
    image_to_data), within `timeout` seconds. The worker processes that call this set
    OMP_THREAD_LIMIT=1 for their Tesseract children (`single_threaded_ocr`); this never touches
    the environment, which the caller's own threads and children share."""
    import pytesseract

    return dict(pytesseract.image_to_data(image, lang=languages, config="--psm 3",
                                          output_type=pytesseract.Output.DICT, timeout=max(1.0, timeout)))


def single_threaded_ocr() -> None:
    """For a process that only parses or draws (the parse and page workers): its Tesseract
    children get one OpenMP thread each, as their threads fight the encoder for the cores.
    Never in a process that embeds: OMP_THREAD_LIMIT=1 changes torch's kernels and with them
    the embeddings (a README test saw the showcase answer change)."""
    os.environ["OMP_THREAD_LIMIT"] = "1"

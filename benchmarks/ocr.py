"""Benchmark: which OCR engine reads scanned pages? Tesseract (Debian's binary, through
pytesseract) against RapidOCR (PP-OCR ONNX models inside its PyPI wheel), on FinanceBench pages
scanned here.

Pages: the gold evidence pages of the dev questions (one per question, up to --pages), each
rendered by PDFium at 200 dpi in grey, skewed by up to 1.2 degrees, given grain, specks and a
grey paper tone as a scanner does, and saved as an image-only PDF (JPEG inside, as scanners
write them). Each engine reads that PDF's page as ingestion does (rendered again by PDFium, at
the dpi in the table), one thread each (what ingestion gives OCR beside the encoder).

Scores against the digital original's text layer of the same page: word recall (the share of
its words, as a multiset of lower-cased \\w+ tokens, that the OCR text holds, over all pages),
and the gold evidence sentence (the evidence's longest line of 6+ words) surviving: 90% of its
words in the OCR text. Time is the engine's alone (no rendering), per page.

Run from the repository root (a few minutes on 2 cores), with Tesseract installed (`make ocr`)
and RapidOCR, which is no project dependency (`pip install rapidocr==3.10.0`):
    python -m benchmarks.ocr --corpus ../shared/corpora/financebench [--pages 24]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCAN_DPI = 200


@dataclass
class Page:
    pdf: Path
    number: int  # 1-based
    digital: str
    evidence: str
    scan: bytes = b""  # the image-only PDF


@dataclass
class Score:
    engine: str
    dpi: int
    found: int = 0
    words: int = 0
    survived: int = 0
    seconds: float = 0.0
    confidences: list[float] = field(default_factory=list)


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def recall(truth: str, got: str) -> tuple[int, int]:
    want, have = Counter(tokens(truth)), Counter(tokens(got))
    return sum((want & have).values()), sum(want.values())


def evidence_line(text: str) -> str:
    lines = [ln.strip() for ln in re.split(r"\n|(?<=\.) ", text)]
    best = max(lines, key=lambda ln: len(tokens(ln)), default="")
    return best if len(tokens(best)) >= 6 else ""


def pick_pages(corpus: Path, limit: int) -> list[Page]:
    import pypdfium2 as pdfium

    pages: list[Page] = []
    seen: set[tuple[str, int]] = set()
    for line in (corpus / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        if q.get("split") != "dev":
            continue
        for ev in q["evidence"]:
            pdf = corpus / "pdfs" / f"{ev['doc_name']}.pdf"
            number = int(ev["evidence_page_num"]) + 1
            sentence = evidence_line(ev["evidence_text"])
            if not pdf.exists() or (pdf.name, number) in seen or not sentence:
                continue
            doc = pdfium.PdfDocument(str(pdf))
            textpage = doc[number - 1].get_textpage()
            pages.append(Page(pdf, number, textpage.get_text_bounded(), sentence))
            seen.add((pdf.name, number))
            doc.close()
            break
        if len(pages) >= limit:
            break
    return pages


def scan(page: Page, seed: int) -> bytes:
    """The page as a scanner would give it: an image-only PDF."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    rng = random.Random(seed)
    doc = pdfium.PdfDocument(str(page.pdf))
    image = doc[page.number - 1].render(scale=SCAN_DPI / 72, grayscale=True).to_pil()
    doc.close()
    image = image.rotate(rng.uniform(-1.2, 1.2), resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(image, dtype=np.float32) * 0.9 + 12  # paper tone, weaker black
    noise = np.random.default_rng(seed)
    pixels += noise.normal(0, 9, pixels.shape)  # sensor grain
    specks = noise.random(pixels.shape) < 0.0005
    pixels[specks] = 30  # dust
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "PDF", resolution=SCAN_DPI, quality=80)
    return out.getvalue()


def rendered(scan_pdf: bytes, dpi: int) -> Any:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(scan_pdf)
    image = doc[0].render(scale=dpi / 72, grayscale=True).to_pil()
    doc.close()
    return image


def tesseract() -> Callable[[Any], tuple[str, float | None]]:
    from ingest.ocr import OcrOptions, read_image

    options = OcrOptions("tesseract", "eng", 1)

    def read(image: Any) -> tuple[str, float | None]:
        got = read_image(image, options, 600)
        return got.text, got.confidence

    return read


def rapidocr() -> Callable[[Any], tuple[str, float | None]]:
    import numpy as np
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "warning", "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                              "EngineConfig.onnxruntime.inter_op_num_threads": 1})

    def read(image: Any) -> tuple[str, float | None]:
        out: Any = engine(np.asarray(image.convert("RGB")))  # RapidOCROutput
        scores = list(out.scores or ())
        return "\n".join(out.txts or ()), (sum(scores) / len(scores) if scores else None)

    return read


ENGINES: dict[str, Callable[[], Callable[[Any], tuple[str, float | None]]]] = {
    "tesseract": tesseract, "rapidocr": rapidocr}
RUNS = [("tesseract", 200), ("tesseract", 300), ("rapidocr", 200)]


def survived(sentence: str, text: str) -> bool:
    found, total = recall(sentence, text)
    return found >= 0.9 * total


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpora/financebench"))
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--out", type=Path, help="write the scores as JSON here too")
    args = parser.parse_args()

    pages = pick_pages(args.corpus, args.pages)
    for i, page in enumerate(pages):
        page.scan = scan(page, seed=i)
    digital = sum(survived(p.evidence, p.digital) for p in pages)
    scores = []
    for name, dpi in RUNS:
        try:
            read = ENGINES[name]()
        except ImportError as e:  # rapidocr is no project dependency
            print(f"{name}: not installed ({e}); `pip install rapidocr==3.10.0` to compare it")
            continue
        read(rendered(pages[0].scan, dpi))  # warm: models loaded, caches filled
        score = Score(name, dpi)
        for page in pages:
            image = rendered(page.scan, dpi)
            start = time.perf_counter()
            text, confidence = read(image)
            score.seconds += time.perf_counter() - start
            found, total = recall(page.digital, text)
            score.found, score.words = score.found + found, score.words + total
            score.survived += survived(page.evidence, text)
            if confidence is not None:
                score.confidences.append(confidence)
        scores.append(score)

    print(f"{len(pages)} FinanceBench dev gold pages scanned at {SCAN_DPI} dpi; CPU: {cpu()}, one thread per engine; "
          f"evidence sentences found in the digital text layer: {digital}/{len(pages)}\n")
    print("| engine | read at | word recall | evidence sentence survives | s/page | pages/s | mean confidence |")
    print("|---|---|---|---|---|---|---|")
    for s in scores:
        conf = sum(s.confidences) / len(s.confidences) if s.confidences else float("nan")
        print(f"| {s.engine} | {s.dpi} dpi | {s.found / max(s.words, 1):.3f} | {s.survived}/{len(pages)} | "
              f"{s.seconds / len(pages):.2f} | {len(pages) / s.seconds:.2f} | {conf:.2f} |")
    if args.out:
        args.out.write_text(json.dumps([vars(s) | {"pages": len(pages)} for s in scores], indent=1))


if __name__ == "__main__":
    main()

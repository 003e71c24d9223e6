"""Benchmark: does retrieval survive scanning? FinanceBench dev questions against the same pages
digital and scanned (read back by OCR at ingestion).

For each dev question whose PDF is present, its gold pages and one page either side are cut out
of the filing (one subset PDF per filing); the scanned copy has each of those pages scanned as
benchmarks/ocr.py scans them (200 dpi, skew, grain, JPEG). Both folders are ingested into stores
of their own (under --stores), and each question is searched in both with the default settings:
a hit when one of the top 5 passages is from the question's filing and one of its gold pages.
The archive is only these pages, so the figures are higher than on the whole corpus: what to
compare is scanned against digital.

Run from the repository root, with Tesseract installed (`make ocr`); several minutes on 2 cores:
    python -m benchmarks.ocr_retrieval --corpus ../shared/corpora/financebench
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.ocr import Page, cpu, scan

K = 5


@dataclass(frozen=True)
class Question:
    text: str
    doc: str  # the filing's name, its PDF's stem
    gold: frozenset[int]  # 1-based pages of the whole filing


def subsets(corpus: Path, split: str = "dev") -> tuple[list[Question], dict[str, list[int]]]:
    """The split's questions with their gold pages, and each filing's pages to cut out (1-based)."""
    import pypdfium2 as pdfium

    questions: list[Question] = []
    pages: dict[str, set[int]] = {}
    for line in (corpus / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        docs = {ev["doc_name"] for ev in q["evidence"]}
        if q.get("split") != split or len(docs) != 1 or not (corpus / "pdfs" / f"{next(iter(docs))}.pdf").exists():
            continue
        name = next(iter(docs))
        count = len(pdfium.PdfDocument(str(corpus / "pdfs" / f"{name}.pdf")))
        gold = {int(ev["evidence_page_num"]) + 1 for ev in q["evidence"]}
        questions.append(Question(q["question"], name, frozenset(gold)))
        pages.setdefault(name, set()).update(p for g in gold for p in (g - 1, g, g + 1) if 1 <= p <= count)
    return questions, {name: sorted(p) for name, p in pages.items()}


def write_subsets(corpus: Path, pages: dict[str, list[int]], out: Path) -> None:
    import pypdfium2 as pdfium

    for kind in ("digital", "scanned"):
        (out / kind).mkdir(parents=True, exist_ok=True)
    seed = 0
    for name, numbers in pages.items():
        source = corpus / "pdfs" / f"{name}.pdf"
        src = pdfium.PdfDocument(str(source))
        digital = pdfium.PdfDocument.new()
        digital.import_pages(src, [n - 1 for n in numbers])
        digital.save(str(out / "digital" / f"{name}.pdf"))
        scanned = pdfium.PdfDocument.new()
        for n in numbers:
            page = pdfium.PdfDocument(scan(Page(source, n, "", ""), seed))
            scanned.import_pages(page, [0])
            seed += 1
        buffer = io.BytesIO()
        scanned.save(buffer)
        (out / "scanned" / f"{name}.pdf").write_bytes(buffer.getvalue())


def main() -> None:
    from assistant import Assistant
    from assistant.index.store import Store
    from assistant.settings import Settings
    from ingest import ingest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpora/financebench"))
    parser.add_argument("--stores", type=Path, default=Path(".store/ocr-retrieval"))
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    args = parser.parse_args()

    questions, pages = subsets(args.corpus, args.split)
    stores = args.stores / args.split
    write_subsets(args.corpus, pages, stores / "pdfs")
    rows = []
    for kind in ("digital", "scanned"):
        settings = Settings(store=stores / f"store-{kind}")
        start = time.perf_counter()
        report = ingest([stores / "pdfs" / kind], settings)
        seconds = time.perf_counter() - start
        metas = Store.open(settings).everything().metas
        ocr = {(m.file, m.page): m.ocr_confidence for m in metas if m.ocr}
        assistant = Assistant(settings=settings)
        hits = 0
        for q in questions:
            numbers = pages[q.doc]  # the subset's page n is the filing's numbers[n - 1]
            hits += any(Path(p.path).stem == q.doc and p.page and numbers[p.page - 1] in q.gold
                        for p in assistant.search(q.text, k=K))
        conf = [c for c in ocr.values() if c is not None]
        rows.append((kind, hits, len(questions), sum(len(p) for p in pages.values()), len(ocr),
                     sum(conf) / len(conf) if conf else None, seconds, report.ok))

    print(f"{len(questions)} FinanceBench {args.split} questions, {len(pages)} filings, gold pages and one "
          f"either side; CPU: {cpu()}\n")
    print(f"| pages | gold page in top {K} | pages | pages read by OCR | mean OCR confidence | ingestion s |")
    print("|---|---|---|---|---|---|")
    for kind, hit, n, total, read, mean, seconds, _ in rows:
        print(f"| {kind} | {hit}/{n} ({hit / n:.3f}) | {total} | {read} | "
              f"{'-' if mean is None else f'{mean:.2f}'} | {seconds:.0f} |")


if __name__ == "__main__":
    main()

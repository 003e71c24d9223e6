"""Benchmark: which PDF parser should ingest use? Chosen by measurement on FinanceBench filings.

For each parser, in one process (ratios against the first parser, pypdfium2, are what to compare):
  1. speed: wall time to extract the text of every page of every PDF (file bytes are read beforehand),
     pages/s, pages with text, and the PDFs that failed (with the reason);
  2. evidence survival: for each gold evidence item whose PDF is present, both texts are normalised
     (lower-case, characters that are not letters, digits or whitespace dropped, whitespace collapsed)
     and it is a hit when >= 90% of the evidence's word 5-grams (its words, if under 5 words) occur in
     the parser's text of 1-based page `evidence_page_num + 1`; also reported within +-1 page.

Parsers: pypdfium2 via the project's `ingest.readers.pdf.read_pdf` (tables as rows,
ingest/readers/pdf_tables.py), and without its tables (`pypdfium2-plain`, the text as before); pypdf
`extract_text()` (what LlamaIndex's default PDF reader uses); pypdf `extraction_mode="layout"` only
when a 5-PDF probe shows it at most 3x slower than plain pypdf.

Run from the repository root:
    python -m benchmarks.pdf_parsers --corpus ../shared/corpora/financebench [--limit N] [--out r.json]
        [--parsers pypdfium2-plain,pypdfium2]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ingest.document import Document
from ingest.limits import Limits
from ingest.readers.pdf import read_pdf

Parser = Callable[[Path, bytes], dict[int, str]]  # 1-based page -> text (empty pages may be absent)
THRESHOLD = 0.9
LAYOUT_MAX_SLOWDOWN = 3.0


def parse_pdfium(path: Path, data: bytes) -> dict[int, str]:
    return {p: t for doc in read_pdf(path, data) for p, t in doc.pages if p is not None}


def parse_pdfium_plain(path: Path, data: bytes) -> dict[int, str]:
    from ingest.readers.isolated import parse

    docs = parse("benchmarks.pdf_parsers:read_plain", path, data, Limits.from_settings())
    return {p: t for doc in docs for p, t in doc.pages if p is not None}


def read_plain(path: Path, data: bytes, limits: Limits) -> list[Document]:
    """The reader with table detection off: run in the parse worker, as `read_pdf` is."""
    from ingest.readers import pdf

    return pdf.read_pdf_here(path, data, limits, tables=False)


def _pypdf(mode: Literal["plain", "layout"]) -> Parser:
    def parse(path: Path, data: bytes) -> dict[int, str]:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        return {i + 1: page.extract_text(extraction_mode=mode) for i, page in enumerate(reader.pages)}

    return parse


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]|_", "", text.lower()).split()


def grams(ws: list[str]) -> set[tuple[str, ...]]:
    n = 5 if len(ws) >= 5 else 1
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def survives(evidence: list[str], page_text: str | None) -> bool:
    if page_text is None:
        return False
    ev, page = grams(evidence), words(page_text)
    n = 5 if len(evidence) >= 5 else 1
    page_grams = {tuple(page[i:i + n]) for i in range(len(page) - n + 1)}
    return len(ev & page_grams) >= THRESHOLD * len(ev)


def survives_unordered(evidence: list[str], page_text: str | None) -> bool:
    if page_text is None:
        return False
    page = Counter(words(page_text))
    found = sum(min(n, page[w]) for w, n in Counter(evidence).items())
    return found >= THRESHOLD * len(evidence)


@dataclass
class Result:
    parser: str
    pdfs_ok: int = 0
    pdfs_failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    pages_with_text: int = 0
    pages_total: int = 0
    seconds: float = 0.0
    pages_per_s: float = 0.0
    speed_vs_first: float = 1.0
    evidence_items: int = 0
    hit_right_page: float = 0.0
    hit_within_1: float = 0.0
    hit_any_order: float = 0.0


def run_parser(name: str, parse: Parser, pdfs: dict[str, tuple[Path, bytes]], page_counts: dict[str, int],
               evidence: list[tuple[str, int, list[str]]]) -> Result:
    res = Result(parser=name, evidence_items=len(evidence))
    texts: dict[str, dict[int, str]] = {}
    for doc, (path, data) in pdfs.items():
        t0 = time.perf_counter()
        try:
            pages = parse(path, data)
        except Exception as e:  # any parser failure is a result to report
            res.seconds += time.perf_counter() - t0
            res.pdfs_failed += 1
            res.failures[doc] = f"{type(e).__name__}: {e}"[:200]
            continue
        res.seconds += time.perf_counter() - t0
        res.pdfs_ok += 1
        res.pages_total += page_counts[doc]
        res.pages_with_text += sum(1 for t in pages.values() if t.strip())
        texts[doc] = pages
    res.pages_per_s = res.pages_total / res.seconds if res.seconds else 0.0
    right = near = unordered = 0
    for doc, page, ev in evidence:
        pages = texts.get(doc, {})
        unordered += survives_unordered(ev, pages.get(page))
        if survives(ev, pages.get(page)):
            right += 1
            near += 1
        elif any(survives(ev, pages.get(p)) for p in (page - 1, page + 1)):
            near += 1
    if evidence:
        res.hit_right_page, res.hit_within_1 = right / len(evidence), near / len(evidence)
        res.hit_any_order = unordered / len(evidence)
    return res


def load(corpus: Path, limit: int | None) -> tuple[dict[str, tuple[Path, bytes]], dict[str, int],
                                                   list[tuple[str, int, list[str]]]]:
    import pypdfium2 as pdfium

    paths = sorted((corpus / "pdfs").glob("*.pdf"))[:limit]
    pdfs = {p.stem: (p, p.read_bytes()) for p in paths}
    counts: dict[str, int] = {}
    for doc, (_, data) in pdfs.items():  # page count per PDF, the same denominator for every parser
        try:
            pdf = pdfium.PdfDocument(data)
            counts[doc] = len(pdf)
            pdf.close()
        except pdfium.PdfiumError:
            counts[doc] = 0
    evidence: list[tuple[str, int, list[str]]] = []
    with (corpus / "questions.jsonl").open(encoding="utf-8") as f:
        for line in f:
            for ev in json.loads(line)["evidence"] if line.strip() else []:
                ws = words(ev["evidence_text"])
                if ev["doc_name"] in pdfs and ws:
                    evidence.append((ev["doc_name"], int(ev["evidence_page_num"]) + 1, ws))
    return pdfs, counts, evidence


def table(results: list[Result]) -> str:
    rows = ["| parser | PDFs ok/failed | pages (with text/total) | seconds | pages/s | speed vs pypdfium2 "
            "| evidence hit, right page | hit within ±1 page | hit, right page, any order |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r.parser} | {r.pdfs_ok}/{r.pdfs_failed} | {r.pages_with_text}/{r.pages_total} "
                    f"| {r.seconds:.1f} | {r.pages_per_s:.1f} | {r.speed_vs_first:.2f}x "
                    f"| {r.hit_right_page:.1%} | {r.hit_within_1:.1%} | {r.hit_any_order:.1%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpora/financebench"))
    ap.add_argument("--limit", type=int, default=None, help="only the first N PDFs (sorted by name)")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    ap.add_argument("--parsers", default="pypdfium2-plain,pypdfium2,pypdf,pypdf-layout",
                    help="which to run, the first being the baseline (pypdf takes about 10 minutes)")
    args = ap.parse_args(argv)
    chosen = [p.strip() for p in args.parsers.split(",") if p.strip()]

    pdfs, counts, evidence = load(args.corpus, args.limit)
    print(f"{len(pdfs)} PDFs, {sum(counts.values())} pages, {len(evidence)} evidence items with their PDF")
    known: dict[str, Parser] = {"pypdfium2-plain": parse_pdfium_plain, "pypdfium2": parse_pdfium,
                                "pypdf": _pypdf("plain")}
    parsers = [(name, known[name]) for name in chosen if name in known]
    slowdown, note = 0.0, "layout probe not run"
    if "pypdf-layout" in chosen:
        probe = dict(list(pdfs.items())[:5])
        plain = run_parser("pypdf", _pypdf("plain"), probe, counts, []).seconds
        layout = run_parser("pypdf-layout", _pypdf("layout"), probe, counts, []).seconds
        slowdown = layout / plain if plain else float("inf")
        note = f"pypdf layout mode on a {len(probe)}-PDF probe: {slowdown:.2f}x the time of plain pypdf"
        if slowdown <= LAYOUT_MAX_SLOWDOWN:
            parsers.append(("pypdf-layout", _pypdf("layout")))
        else:
            note += f" (over {LAYOUT_MAX_SLOWDOWN:g}x: not benchmarked)"
    print(note)

    results: list[Result] = []
    for name, parse in parsers:
        res = run_parser(name, parse, pdfs, counts, evidence)
        res.speed_vs_first = res.pages_per_s / results[0].pages_per_s if results else 1.0
        results.append(res)
        print(f"  {name}: {res.seconds:.1f}s", flush=True)

    print()
    print(table(results))
    for r in results:
        for doc, reason in r.failures.items():
            print(f"- {r.parser} failed on {doc}: {reason}")
    if args.out:
        report = {"command": "python -m benchmarks.pdf_parsers " + " ".join(argv or sys.argv[1:]),
                  "pdfs": len(pdfs), "evidence_items": len(evidence), "threshold": THRESHOLD,
                  "layout_probe": {"slowdown_vs_pypdf": slowdown, "note": note},
                  "results": [asdict(r) for r in results]}
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

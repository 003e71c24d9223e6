"""Benchmark: which PDF table method to measure in full? On the gold evidence pages of a financebench
split, the pages on which each method finds a table and its time per page (page load and text included);
for `pdfium-tables`, also how many of the numbers in the gold evidence (3 characters or more) stand in
the page's text after a column header ("2023: 1,875", "2023: $ 689"), i.e. say what they are.

Methods: `pdfium` (the text alone, the baseline), `pdfium-tables` (ingest/readers/pdf_tables.py),
`pdfplumber` (ruled tables, its default) and `pdfplumber-text` (tables from text alignment). pdfplumber
is not a dependency: run those two from a virtual environment that has it (`pip install pdfplumber`).

    python -m benchmarks.tables_sample pdfium-tables [--corpus ../shared/corpora/financebench] [--split dev]
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import time
from pathlib import Path


def gold_pages(corpus: Path, split: str) -> dict[tuple[str, int], list[str]]:
    """(PDF, 0-based page) -> the gold evidence texts on it."""
    pages: dict[tuple[str, int], list[str]] = {}
    for line in (corpus / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line) if line.strip() else {}
        if r and r["split"] == split and r.get("doc_in_archive", True):
            for e in r["evidence"]:
                pages.setdefault((e["doc_name"], int(e["evidence_page_num"])), []).append(e["evidence_text"])
    return dict(sorted(pages.items()))


def labelled(evidence: list[str], text: str) -> tuple[int, int]:
    """(numbers in the evidence, those found after a column header in the text)."""
    numbers = [n for ev in evidence for n in re.findall(r"\d[\d,.]*\d", ev) if len(n) >= 3]
    found = sum(bool(re.search(rf"[^|\n]: [$(]*\s?\(?{re.escape(n)}(?![\d,])", text)) for n in numbers)
    return len(numbers), found


def run(method: str, corpus: Path, pages: dict[tuple[str, int], list[str]]) -> tuple[int, float, int, int]:
    """(pages with a table found, seconds in all, numbers in the evidence, those after a header)."""
    found, seconds, numbers, after_header = 0, 0.0, 0, 0
    if method.startswith("pdfplumber"):
        pdfplumber = importlib.import_module("pdfplumber")
        settings = {} if method == "pdfplumber" else {"vertical_strategy": "text", "horizontal_strategy": "text"}
        for doc, n in pages:
            with pdfplumber.open(corpus / "pdfs" / f"{doc}.pdf") as pdf:
                start = time.perf_counter()
                page = pdf.pages[n]
                page.extract_text()
                found += bool(page.find_tables(settings))
                seconds += time.perf_counter() - start
        return found, seconds, 0, 0
    import pypdfium2 as pdfium

    from ingest.readers.pdf_tables import maybe_tables, page_tables

    for doc, n in pages:  # the pages' own time: opening the file is left out, as pdfplumber's is
        pdf = pdfium.PdfDocument(str(corpus / "pdfs" / f"{doc}.pdf"))
        start = time.perf_counter()
        page = pdf[n]
        textpage = page.get_textpage()
        text = textpage.get_text_bounded().replace("\r\n", "\n")
        if method == "pdfium-tables" and maybe_tables(text):
            text, spans = page_tables(textpage, textpage.get_text_range())
            found += bool(spans)
        textpage.close()
        page.close()
        seconds += time.perf_counter() - start
        pdf.close()
        got = labelled(pages[doc, n], text)
        numbers, after_header = numbers + got[0], after_header + got[1]
    return found, seconds, numbers, after_header


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("method", choices=["pdfium", "pdfium-tables", "pdfplumber", "pdfplumber-text"])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpora/financebench"))
    ap.add_argument("--split", default="dev")
    args = ap.parse_args()
    pages = gold_pages(args.corpus, args.split)
    found, seconds, numbers, after_header = run(args.method, args.corpus, pages)
    print(f"{args.method}: {len(pages)} gold pages of {args.split}, a table found on {found}, "
          f"{1000 * seconds / max(len(pages), 1):.1f} ms a page"
          + (f"; {after_header} of {numbers} evidence numbers after a column header" if numbers else ""))


if __name__ == "__main__":
    main()

"""The evaluation corpora under ../shared: what to ingest, which questions count, what a hit is.

Which questions count:
  - cambodia: every question with gold documents; a hit is a passage from a gold document.
  - news-2023q4: DPR-style answer accuracy (Karpukhin et al., 2020): a hit is a passage that
    contains a correct answer string (case-insensitive). Only questions whose answer occurs in
    the archive (`answer_in_archive`) count, and not those whose answers are all a bare
    yes/no, shorter than 4 characters, or a number (digits and punctuation only) with fewer
    than 5 digits: such strings occur in passages by chance.
  - financebench: gold-page recall: a hit is a passage from the gold PDF on a gold page
    (the data's pages are 0-indexed, ours 1-based). Only questions whose PDF is in the
    archive (`doc_in_archive`) count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.questions import matches


@dataclass
class EvalQuestion:
    id: str
    question: str
    split: str
    hit: Callable[[str, str, str, int | None], bool]  # (text, path, doc_id, page) -> hit
    gold: list[str] = field(default_factory=list)


@dataclass
class Corpus:
    name: str
    root: Path
    metric: str
    paths: list[Path]  # what to ingest
    questions: list[EvalQuestion]
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> number of questions left out
    question_set: str = ""  # results named after it where not the corpus's own questions ("staff")

    def split(self, split: str) -> list[EvalQuestion]:
        return [q for q in self.questions if split in ("all", q.split)]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cambodia(root: Path) -> Corpus:
    qs = []
    for r in _lines(root / "questions.jsonl"):
        if "question" not in r or not r.get("gold_docs"):
            continue
        gold = [g.removeprefix("docs/") for g in r["gold_docs"]]
        def hit(t: str, p: str, d: str, pg: int | None, gold: list[str] = gold) -> bool:
            return any(matches(g, p, d) for g in gold)

        qs.append(EvalQuestion(r["id"], r["question"], r.get("split", "dev"), hit, gold))
    return Corpus("cambodia", root, "gold-document hit", [root / "docs"], qs)


_NUMBERISH = re.compile(r"^[\d\s.,%$£€:/-]+$")


def countable_answer(answer: str) -> bool:
    a = answer.strip()
    if a.lower() in ("yes", "no") or len(a) < 4:
        return False
    return not (_NUMBERISH.match(a) and sum(c.isdigit() for c in a) < 5)


def news(root: Path) -> Corpus:
    qs: list[EvalQuestion] = []
    excluded = {"answer not in archive": 0, "answer too short, yes/no or a short number": 0}
    for r in _lines(root / "questions.jsonl"):
        if not r.get("answer_in_archive"):
            excluded["answer not in archive"] += 1
            continue
        answers = [a.lower() for a in r["answers"] if countable_answer(a)]
        if not answers:
            excluded["answer too short, yes/no or a short number"] += 1
            continue
        def hit(t: str, p: str, d: str, pg: int | None, answers: list[str] = answers) -> bool:
            return any(a in t.lower() for a in answers)

        qs.append(EvalQuestion(r["id"], r["question"], r["split"], hit, answers))
    return Corpus("news-2023q4", root, "answer accuracy (DPR)", [root / "docs.jsonl"], qs, excluded)


def financebench(root: Path) -> Corpus:
    qs: list[EvalQuestion] = []
    excluded = {"PDF not in archive": 0}
    for r in _lines(root / "questions.jsonl"):
        if not r.get("doc_in_archive", True):
            excluded["PDF not in archive"] += 1
            continue
        gold = {(e["doc_name"], int(e["evidence_page_num"]) + 1) for e in r["evidence"]}

        def hit(t: str, p: str, d: str, pg: int | None, gold: set[tuple[str, int]] = gold) -> bool:
            name = Path(p).stem
            return pg is not None and (name, pg) in gold

        qs.append(EvalQuestion(r["financebench_id"], r["question"], r["split"], hit,
                               sorted(f"{n}#p{p}" for n, p in gold)))
    return Corpus("financebench", root, "gold-page recall", [root / "pdfs"], qs, excluded)


def load(root: str | Path) -> Corpus:
    root = Path(root)
    if (root / "docs.jsonl").is_file():
        return news(root)
    if (root / "pdfs").is_dir():
        return financebench(root)
    if (root / "docs").is_dir():
        return cambodia(root)
    raise SystemExit(f"{root} is not a known corpus layout (docs/, docs.jsonl or pdfs/ beside questions.jsonl)")

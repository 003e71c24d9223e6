"""Question sets with gold evidence: the sample archive's and the corpora under ../shared."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Question:
    id: str
    question: str
    answer: str = ""
    gold_docs: list[str] = field(default_factory=list)  # path suffixes, or "file.jsonl#id"
    refusal: bool = False
    split: str = "dev"
    type: str = ""


def load_sample(path: str | Path = "examples/questions.jsonl") -> list[Question]:
    """The project's own evaluation set over examples/archive/."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(Question(r["id"], r["question"], r.get("answer", ""), r.get("expected_docs", []),
                                bool(r.get("refusal")), r.get("split", "dev"), r.get("type", "")))
    return out


def load_cambodia(corpus: str | Path) -> list[Question]:
    out = []
    for line in (Path(corpus) / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if "question" not in r:
            continue
        gold = [g.removeprefix("docs/") for g in r.get("gold_docs", [])]
        out.append(Question(r["id"], r["question"], r.get("answer", ""), gold, False,
                            r.get("split", "dev"), r.get("type", "")))
    return out


def matches(gold: str, path: str, doc_id: str) -> bool:
    """Does a cited/retrieved passage (path, doc_id) come from the gold document?"""
    file, _, record = gold.partition("#")
    if not path.replace("\\", "/").endswith("/" + file.lstrip("/")) and path != file:
        return False
    return not record or doc_id == record

"""Verdicts turned into evaluation cases (`assistant feedback export`), one JSON object a line,
for `python -m evals answers --questions FILE`. docs/feedback.md has the format. No owner is
written: a case says what was asked and judged, not by whom."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.accounts import History, Rated
from assistant.accounts.activity import earlier_questions
from assistant.errors import AssistantError

# What a verdict asks of the next version (docs/feedback.md):
KINDS = ("keep", "fix", "find", "refuse")
REQUIRED = ("id", "kind", "question")


class CaseError(AssistantError):
    """A line of a cases file that is not a case."""


@dataclass(frozen=True)
class FeedbackCase:
    id: str  # the rated turn's id
    kind: str  # keep, fix, find or refuse
    question: str
    turns: list[str] = field(default_factory=list)  # the conversation's earlier questions, in order
    gold_docs: list[str] = field(default_factory=list)  # keep: its cited documents must stay cited
    cited: list[str] = field(default_factory=list)  # what the rated answer cited (every kind)
    answer: str = ""  # the rated answer's text, as given
    comment: str = ""
    filters: dict[str, Any] = field(default_factory=dict)  # as saved: since, until, source, kind, collection
    backend: str = ""
    rated: str = ""  # ISO date of the verdict
    context: dict[str, Any] = field(default_factory=dict)  # settings and store generation when rated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> FeedbackCase:
        """Back from `to_dict`; CaseError saying what is wrong. Unknown fields are ignored, so a
        newer export still reads."""
        if not isinstance(data, dict):
            raise CaseError("not a JSON object")
        missing = [k for k in REQUIRED if not isinstance(data.get(k), str) or not data[k].strip()]
        if missing:
            raise CaseError(f"missing or empty {', '.join(missing)}")
        if data["kind"] not in KINDS:
            raise CaseError(f"kind {data['kind']!r} is not one of {', '.join(KINDS)}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for k in ("turns", "gold_docs", "cited"):
            if not (isinstance(values.get(k, []), list) and all(isinstance(s, str) for s in values.get(k, []))):
                raise CaseError(f"{k} must be a list of strings")
        for k in ("filters", "context"):
            if not isinstance(values.get(k, {}), dict):
                raise CaseError(f"{k} must be an object")
        return cls(**values)


def kind_of(refused: bool, rating: str) -> str:
    if rating == "up":
        return "refuse" if refused else "keep"
    return "find" if refused else "fix"


def doc_key(path: str, doc_id: str) -> str:
    """A cited document as evals.questions.matches takes it: the file's path, and `#record` for
    a record of a JSON-lines file (several documents in one file)."""
    return path if not doc_id or doc_id == path else f"{path}#{doc_id}"


def cases_from(rated: list[Rated], earlier: dict[str, list[str]]) -> list[FeedbackCase]:
    out = []
    for r in rated:
        answer = r.turn.answer
        refused = bool(answer.get("refused"))
        cited = list(dict.fromkeys(doc_key(str(c.get("path", "")), str(c.get("doc_id", "")))
                                   for c in answer.get("citations", []) if c.get("path")))
        kind = kind_of(refused, r.rating)
        out.append(FeedbackCase(
            id=r.turn.id, kind=kind, question=r.turn.question, turns=earlier.get(r.turn.id, []),
            gold_docs=cited if kind == "keep" else [], cited=cited, answer=str(answer.get("answer", "")),
            comment=r.comment, filters=dict(r.turn.filters), backend=r.turn.backend,
            rated=r.created.date().isoformat(), context=dict(r.context)))
    return out


def export_cases(history: History, since: datetime | None = None) -> list[FeedbackCase]:
    """Every verdict since `since` (when it was given) as a case, newest first."""
    rated = history.rated(since=since, limit=1_000_000)
    return cases_from(rated, earlier_questions(history.engine, [r.turn.id for r in rated]))


def write_cases(cases: list[FeedbackCase], path: Path) -> None:
    text = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in cases)
    path.write_text(text, encoding="utf-8")


def read_cases(path: Path) -> list[FeedbackCase]:
    """The cases of a file; CaseError naming every faulty line."""
    out, errors = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(FeedbackCase.from_dict(json.loads(line)))
        except json.JSONDecodeError as e:
            errors.append(f"{path}:{n}: not JSON ({e.msg})")
        except CaseError as e:
            errors.append(f"{path}:{n}: {e}")
    if errors:
        raise CaseError("\n".join(errors))
    return out

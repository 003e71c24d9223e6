"""What a staff-question run records: each answer judged (Record) and the metrics over many
(Metrics), shared by the harness (evals/staff.py) and its report (evals/staff_report.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TYPES = ("why", "who", "when", "how-many", "said", "follow-up", "comparison", "out-of-archive", "stale")


@dataclass
class Cited:
    path: str
    doc_id: str


@dataclass
class Record:
    id: str
    type: str
    split: str
    question: str
    turns: list[str]
    answerable: bool
    answer: str
    refused: bool
    citations: list[Cited]
    age_note: str | None
    seconds: float  # the last question's ask, not its turns'
    support: tuple[int, int, int, int] = (0, 0, 0, 0)  # evals/answers.judge: supported, sentences, needed, cites
    gold_cited: bool = False
    missing: list[str] = field(default_factory=list)  # facts not in the answer, by their first spelling
    correct: bool | None = None  # None: unanswerable
    first_correct: bool | None = None  # None: not scored
    wrongly_answered: bool | None = None  # None: answerable

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        return cls(**{**d, "citations": [Cited(**c) for c in d["citations"]], "support": tuple(d["support"])})


@dataclass
class Metrics:
    n: int
    answerable: int
    answer_correct: float | None
    first_correct: float | None
    citation_precision: float | None
    gold_cited: float | None
    wrongly_refused: float | None
    wrongly_answered: float | None
    seconds: float | None

"""The admin page's material: the failures (refusals and thumbs-down) grouped by similar
questions, most frequent first, and the weekly counts: the archive's gaps and the assistant's
failures at a glance. docs/feedback.md says how to read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine

from assistant.accounts import History
from assistant.accounts.activity import Failure, WeekCounts, failures, weekly

# Cosine similarity at or above which two questions are one gap. Measured with the default
# model (all-MiniLM-L6-v2, bf16): eight paraphrase pairs scored 0.83 to 0.98; the 210 pairs of
# different questions in examples/questions.jsonl (one archive, so one topic) at most 0.745,
# 95% under 0.60. Questions that differ by one word ("when" or "why", one year for another)
# score 0.93 to 0.95 and fall together: a gap is a topic, and its examples show each wording.
SIMILAR = 0.8
EXAMPLES = 5  # wordings kept per gap


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Gap:
    """Similar questions that failed: the latest wording, how often, how, and what people said."""

    question: str  # the latest wording
    count: int
    refused: int
    down: int  # thumbs-down (a refusal rated down counts in both)
    comments: list[str]
    last_asked: datetime
    examples: list[Failure] = field(default_factory=list)  # newest first, up to EXAMPLES
    after: str = ""  # for a follow-up: the question asked just before the latest wording

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "count": self.count, "refused": self.refused, "down": self.down,
                "comments": self.comments, "last_asked": self.last_asked.isoformat(), "after": self.after,
                "examples": [{"question": f.question, "earlier": f.earlier, "refused": f.refused,
                              "rating": f.rating, "comment": f.comment, "answer": f.text,
                              "asked": f.created.isoformat()} for f in self.examples]}


@dataclass(frozen=True)
class Week:
    monday: date
    answers: int
    refusals: int
    down: int
    up: int

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.monday.isoformat(), "answers": self.answers, "refusals": self.refusals,
                "down": self.down, "up": self.up}


@dataclass(frozen=True)
class FeedbackReport:
    gaps: list[Gap]  # most frequent first, then most recent
    weeks: list[Week]  # oldest first, no week left out between the first and the last

    @property
    def empty(self) -> bool:
        return not self.gaps and not any(w.answers or w.refusals for w in self.weeks)

    def to_dict(self) -> dict[str, Any]:
        return {"weeks": [w.to_dict() for w in self.weeks], "gaps": [g.to_dict() for g in self.gaps]}


def feedback_report(source: History | Engine, embedder: Encoder, since: datetime | None = None) -> FeedbackReport:
    """The report over everything asked since `since` (None: ever)."""
    engine = source.engine if isinstance(source, History) else source
    weeks = [_week(w) for w in weekly(engine, since)]
    return FeedbackReport(group(failures(engine, since), embedder), weeks)


def group(found: list[Failure], embedder: Encoder, threshold: float = SIMILAR) -> list[Gap]:
    """Greedy: each failure, newest first, joins the group whose mean vector is nearest if that
    is at least `threshold`, else starts one; so a group's first member is its latest wording."""
    if not found:
        return []
    found = sorted(found, key=lambda f: f.created, reverse=True)
    vectors = _unit(np.asarray(embedder.encode([_text(f) for f in found]), dtype=np.float32))
    members: list[list[int]] = []
    sums: list[np.ndarray] = []
    for i, v in enumerate(vectors):
        best, score = -1, threshold
        for g, s in enumerate(sums):
            sim = float(v @ s) / max(float(np.linalg.norm(s)), 1e-9)
            if sim >= score:
                best, score = g, sim
        if best < 0:
            members.append([i])
            sums.append(v.copy())
        else:
            members[best].append(i)
            sums[best] += v
    gaps = [_gap([found[i] for i in m]) for m in members]
    return sorted(gaps, key=lambda g: (-g.count, -g.last_asked.timestamp()))


def _follow_up(f: Failure) -> bool:
    """Was it answered as a follow-up? Then the assistant searched a rewritten question. A later
    question of a conversation is often a new topic, which is grouped on its own words."""
    return bool(f.answer.get("standalone_question")) and bool(f.earlier)


def _text(f: Failure) -> str:
    # A follow-up ("Who said that?") means little alone: it is grouped as the assistant read it.
    return str(f.answer["standalone_question"]) if _follow_up(f) else f.question


def _unit(m: np.ndarray) -> np.ndarray:
    # The default embedder's vectors are normalised already; another Encoder's may not be.
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.asarray(m / np.maximum(norms, 1e-9), dtype=np.float32)


def _gap(fs: list[Failure]) -> Gap:
    return Gap(question=fs[0].question, count=len(fs), refused=sum(f.refused for f in fs),
               down=sum(f.rating == "down" for f in fs), comments=[f.comment for f in fs if f.comment],
               last_asked=fs[0].created, examples=fs[:EXAMPLES],
               after=fs[0].earlier[-1] if _follow_up(fs[0]) else "")


def _week(w: WeekCounts) -> Week:
    return Week(w.week, w.answers, w.refusals, w.down, w.up)

"""What the admin page and the feedback export read from the state database, across all users:
the failures (refused or thumbs-down answers) and the weekly counts. Owners are never selected:
the admin sees questions and verdicts, not who asked."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, case, func, or_, select
from sqlalchemy.orm import aliased

from assistant.accounts.tables import feedback, turns


@dataclass(frozen=True)
class Failure:
    """A refused answer, or one its asker gave a thumbs-down (a refusal may be rated too)."""

    turn: str  # the turn's id
    question: str
    answer: dict[str, Any]  # as shown: Answer.to_dict(collections=True)
    refused: bool
    rating: str | None  # "up", "down" or None (not rated)
    comment: str
    created: datetime  # when it was asked
    earlier: list[str] = field(default_factory=list)  # the conversation's earlier questions, in order
    filters: dict[str, Any] = field(default_factory=dict)
    backend: str = ""

    @property
    def text(self) -> str:
        return str(self.answer.get("answer", ""))


@dataclass(frozen=True)
class WeekCounts:
    """One ISO week's turns (counted in the week they were asked; verdicts with their answer)."""

    week: date  # its Monday
    answers: int  # answered, not refused
    refusals: int
    down: int
    up: int

    @property
    def questions(self) -> int:
        return self.answers + self.refusals


def failures(engine: Engine, since: datetime | None = None, limit: int = 5000) -> list[Failure]:
    """Every turn asked since `since` that was refused or rated down, newest first."""
    query = (select(turns, feedback.c.rating, feedback.c.comment)
             .outerjoin(feedback, feedback.c.turn_id == turns.c.id)
             .where(or_(turns.c.refused.is_(True), feedback.c.rating == "down")))
    if since is not None:
        query = query.where(turns.c.created >= since)
    query = query.order_by(turns.c.created.desc(), turns.c.id).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        before = _earlier(conn, [r.id for r in rows])
    return [Failure(r.id, r.question, json.loads(r.answer), bool(r.refused), r.rating, r.comment or "", r.created,
                    before.get(r.id, []), json.loads(r.filters), r.backend) for r in rows]


def earlier_questions(engine: Engine, turn_ids: Iterable[str]) -> dict[str, list[str]]:
    """For each turn, the questions asked before it in its conversation, in order (absent: none)."""
    with engine.connect() as conn:
        return _earlier(conn, list(turn_ids))


def _earlier(conn: Any, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    target, before = aliased(turns), aliased(turns)
    for start in range(0, len(ids), 500):  # bound the IN list (SQLite's variable limit)
        rows = conn.execute(
            select(target.c.id, before.c.question)
            .join(before, (before.c.conversation_id == target.c.conversation_id)
                  & (before.c.position < target.c.position))
            .where(target.c.id.in_(ids[start:start + 500]))
            .order_by(target.c.id, before.c.position))
        for r in rows:
            out.setdefault(r.id, []).append(r.question)
    return out


def weekly(engine: Engine, since: datetime | None = None) -> list[WeekCounts]:
    """Counts per ISO week (Monday first) since `since`, oldest first; weeks without a turn
    between the first and the last are there with zeros (a plot needs them)."""
    week = _monday(engine.dialect.name, turns.c.created).label("week")
    down = func.sum(case((feedback.c.rating == "down", 1), else_=0))
    up = func.sum(case((feedback.c.rating == "up", 1), else_=0))
    refused = func.sum(case((turns.c.refused.is_(True), 1), else_=0))
    query = (select(week, func.count().label("n"), refused.label("refused"), down.label("down"), up.label("up"))
             .select_from(turns.outerjoin(feedback, feedback.c.turn_id == turns.c.id))
             .group_by(week).order_by(week))
    if since is not None:
        query = query.where(turns.c.created >= since)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = {date.fromisoformat(str(r.week)[:10]): r for r in rows}
    if not found:
        return []
    out = []
    day, last = min(found), max(found)
    while day <= last:
        r = found.get(day)
        n, off = (int(r.n), int(r.refused)) if r is not None else (0, 0)
        out.append(WeekCounts(day, n - off, off, int(r.down) if r else 0, int(r.up) if r else 0))
        day += timedelta(days=7)
    return out


def _monday(dialect: str, column: Any) -> ColumnElement[Any]:
    """The Monday of a timestamp's ISO week, as YYYY-MM-DD text, in UTC."""
    if dialect == "postgresql":
        return func.to_char(func.date_trunc("week", func.timezone("UTC", column)), "YYYY-MM-DD")
    # SQLite keeps naive UTC text; 'weekday 0' moves to the coming Sunday (or stays on one).
    return func.date(column, "weekday 0", "-6 days")

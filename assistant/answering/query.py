"""The read path's query checks: a question made safe to search, filters from user input, and
earlier turns of a conversation read from either history form."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from assistant.errors import QuestionError
from assistant.index.dates import parse_date
from assistant.index.meta import check_collection
from assistant.index.search import Filters

MAX_QUESTION_CHARS = 2000
_NUMERIC_DATE = re.compile(r"\d{4}(?:-\d{1,2}){0,2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1, tab and newlines aside
_SURROGATE = re.compile("[\ud800-\udfff]")

History = Sequence[tuple[str, str]] | Sequence[dict[str, str]]


def check_question(question: str) -> str:
    """The question with its whitespace collapsed; QuestionError when there is none to search
    for, it is too long, or it holds control characters or lone surrogates."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(question):,} characters long; the limit is "
                            f"{MAX_QUESTION_CHARS:,}.")
    if _CONTROL.search(question):
        raise QuestionError("The question contains control characters.")
    if _SURROGATE.search(question):  # undecodable bytes, or a broken UTF-16 pair: no text to search for
        raise QuestionError("The question contains characters that are not text (a lone UTF-16 surrogate).")
    return " ".join(question.split())


def make_filters(since: str | None = None, until: str | None = None,
                 source: str | Sequence[str] | None = None, kind: str | Sequence[str] | None = None,
                 collection: str | Sequence[str] | None = None) -> Filters:
    """Filters from user input: dates as ISO text ("2023", "2023-08", "2023-08-14"); `until`
    covers the whole year or month it names; sources and document types match exactly, and so
    do archive collections (QuestionError for a name no collection can have). As for sources,
    no collection named (None, blanks) means any."""
    low, high = _bound(since, False), _bound(until, True)
    if low and high and low > high:
        raise QuestionError(f"The start date {since!r} is after the end date {until!r}.")
    names = tuple(check_collection(c, QuestionError) for c in _many(collection))
    return Filters(low, high, _many(source), _many(kind), collections=names or None)


def restrict(filters: Filters, readable: tuple[str, ...] | None) -> Filters:
    """`filters` within the collections a reader may read (None: all): a collection asked for
    outside them is dropped, never added, so asking only for those leaves nothing to find."""
    if readable is None:
        return filters
    if filters.collections is None:
        return replace(filters, collections=readable)
    return replace(filters, collections=tuple(c for c in filters.collections if c in readable))


def _bound(value: str | None, end: bool) -> int | None:
    """A date bound as YYYYMMDD (0 for a missing month or day); at the end, the whole period."""
    text = str(value or "").strip()
    if not text:
        return None
    if _NUMERIC_DATE.fullmatch(text):  # strictly: 2023-13 must not pass as 2023
        y, m, d = (int(p) for p in (text.split("-") + ["0", "0"])[:3])
        num = y * 10000 + m * 100 + d
    else:  # words: "August 2023"
        parsed = parse_date(text)
        num = parsed[1] if parsed else 0
    if not _valid(num):
        raise QuestionError(f"Cannot read the date {value!r}; use YYYY, YYYY-MM or YYYY-MM-DD.")
    if end:  # 2023 -> 20239999, 2023-08 -> 20230899: the whole period is included
        num += 9999 if num % 10000 == 0 else 99 if num % 100 == 0 else 0
    return num


def _many(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """One name or several, as a tuple; blank entries mean "any" and are dropped."""
    items = (value,) if isinstance(value, str) else value or ()
    return tuple(str(x).strip() for x in items if x is not None and str(x).strip())


def _valid(num: int) -> bool:
    """A YYYYMMDD number (month or day 0 when absent) that names a real date."""
    y, m, d = num // 10000, num // 100 % 100, num % 100
    try:
        date(y, m or 1, d or 1)
    except ValueError:
        return False
    return bool(m or not d)


def user_turns(history: History | None) -> list[str]:
    """The user's earlier questions, from (user, assistant) pairs or {"role", "content"} dicts."""
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, dict):
            if turn.get("role") == "user":
                out.append(str(turn.get("content", "")))
        else:
            out.append(str(turn[0]))
    return [_text(t) for t in out if t.strip()]


def turns(history: History | None) -> list[tuple[str, str]]:
    """(question, answer) pairs from either history form; an unanswered question has ""."""
    out: list[tuple[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict):
            content = str(turn.get("content", ""))
            if turn.get("role") == "user":
                out.append((content, ""))
            elif turn.get("role") == "assistant" and out and not out[-1][1]:
                out[-1] = (out[-1][0], content)
        else:
            out.append((str(turn[0]), str(turn[1]) if len(turn) > 1 else ""))
    return [(_text(q), _text(a)) for q, a in out if q.strip()]


def _text(value: str) -> str:
    """Earlier turns as text: a lone surrogate (from a client's broken UTF-16) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


def condense(question: str, history: History | None) -> str:
    """A follow-up made standalone without an LLM: when the question refers back ("that",
    "they", "And in 2020?"), the earlier questions' content words are added (followup.py), so
    retrieval sees what it refers to."""
    from assistant.answering.followup import topic

    earlier = user_turns(history)
    return f"{question} {topic(question, earlier)}".strip()

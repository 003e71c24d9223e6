"""Dates in an answer's view: each quoted sentence carries its source's date, and an answer
resting only on sources far older than the archive's newest (or, for a question about how
things are now, merely older) says how old they are, in its own text, so that nobody repeats
a 1973 population figure as today's."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answering.intent import YEAR

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
OLD_YEARS = 10  # sources this much older than the archive's newest are old, whatever the question
NOW_YEARS = 2  # ... and this much, for a question about how things are now ("What is ...?")
# "Since 2017, ..." opens a sentence about the years since, not about 2017 alone.
_SPANS = re.compile(r"\b(?:since|from|after)\s+(?:1[6-9]|20)\d\d\b", re.I)


def shown(iso: str | None) -> str:
    """"2023-08-03" -> "3 Aug 2023"; "2023-08" -> "Aug 2023"; "2023" -> "2023"; else ""."""
    parts = (iso or "").split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 0
        day = int(parts[2][:2]) if len(parts) > 2 else 0
    except ValueError:
        return ""
    if not 1 <= month <= 12:
        return str(year)
    return f"{day} {_MONTHS[month - 1]} {year}" if day else f"{_MONTHS[month - 1]} {year}"


def year_of(iso: str | None) -> int | None:
    head = (iso or "")[:4]
    return int(head) if head.isdigit() else None


def age_note(dates: Sequence[str | None], newest: int | None, present: bool) -> str | None:
    """The sentence saying how old an answer's sources are, or None when they are recent enough
    (or undated, or the archive's newest year is unknown)."""
    years = sorted({y for y in (year_of(d) for d in dates) if y})
    if not years or newest is None:
        return None
    gap = newest - years[-1]
    if gap < (NOW_YEARS if present else OLD_YEARS):
        return None
    span = str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"
    return (f"Note: these sources date from {span}, {gap} years before the archive's newest document "
            f"({newest}); things may have changed since.")


def entry_years(sentence: str) -> set[str]:
    """The years a sentence opens with, as a dated entry of a timeline or a list does
    ("13 April 2021 — ...", "In 2019, ..."): what it is about, whatever its document's date."""
    return set(YEAR.findall(_SPANS.sub(" ", sentence[:24])))


def quoted_date(date: str | None, quoted: Sequence[str]) -> str | None:
    """How old what a source was quoted for is: its date, or where every sentence quoted from
    it opens with a year (a timeline's entries), the latest of those."""
    years = [entry_years(s) for s in quoted]
    if quoted and all(years):
        return max(y for found in years for y in found)
    return date

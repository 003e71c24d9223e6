"""Dates as found in archives ("2023-08-14", "August 1, 2023", "2023-08 (after ...)", "c. 2019")
turned into ISO text plus a sortable integer YYYYMMDD for filters (missing parts are 0)."""

from __future__ import annotations

import re
from datetime import date, datetime

_ISO = re.compile(r"\b(1[89]\d\d|20\d\d)(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?(?!\d)")
_DEFAULT = datetime(1, 1, 1)


def parse_date(value: object) -> tuple[str, int] | None:
    """(iso, yyyymmdd) or None when no date can be read."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat(), value.year * 10000 + value.month * 100 + value.day
    text = str(value).strip()
    if not text:
        return None
    m = _ISO.search(text)
    if m and m.start() < 4:  # an ISO-looking date at the start ("c. 2019" counts too)
        y, mo, d = int(m[1]), int(m[2] or 0), int(m[3] or 0)
        iso = m[0]
        return iso, y * 10000 + mo * 100 + d
    try:
        from dateutil import parser

        dt = parser.parse(text, default=_DEFAULT, fuzzy=True)
    except (ValueError, OverflowError):
        dt = None
    if dt is not None and dt.year > 1:
        return dt.date().isoformat(), dt.year * 10000 + dt.month * 100 + dt.day
    if m:
        y, mo, d = int(m[1]), int(m[2] or 0), int(m[3] or 0)
        return m[0], y * 10000 + mo * 100 + d
    return None

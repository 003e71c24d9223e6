"""The audit trail: one JSON line per event (logins, questions, reads, changes), appended by
any number of threads and processes, and read back with filters by `assistant audit`."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from assistant.accounts.principal import AccountError
from assistant.errors import ConfigError
from assistant.settings import Settings

log = logging.getLogger(__name__)
STDOUT = "-"


@dataclass(frozen=True)
class AuditEvent:
    time: str  # ISO 8601, UTC
    user: str | None
    address: str  # the client's address; "cli" for the command line
    route: str  # e.g. "POST /api/ask", or "users add" for the command line
    action: str  # login, failed-login, logout, ask, search, file-read, upload, removal, user-change, ...
    collections: tuple[str, ...]
    status: int | str  # an HTTP status, or "ok" / "refused"
    question: str | None = None  # only where settings.audit_questions is on
    target: str | None = None  # the account a user-change changed

    @property
    def when(self) -> datetime:
        return _aware(datetime.fromisoformat(self.time))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": self.time, "user": self.user, "address": self.address, "route": self.route,
                               "action": self.action, "collections": list(self.collections), "status": self.status}
        if self.question is not None:
            out["question"] = self.question
        if self.target is not None:
            out["target"] = self.target
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditEvent:
        if not isinstance(d, dict) or not isinstance(d.get("collections", []), list):
            raise ValueError("not an event")
        event = cls(str(d["time"]), _opt_str(d.get("user")), str(d["address"]), str(d["route"]), str(d["action"]),
                    tuple(str(c) for c in d.get("collections") or ()), d["status"], _opt_str(d.get("question")),
                    _opt_str(d.get("target")))
        if not isinstance(event.status, int | str):
            raise ValueError("bad status")
        _ = event.when  # a time that does not parse makes the line malformed
        return event


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class AuditLog:
    """Appends events to a file (or standard output for "-"). Each event is one os.write of one
    line to a file opened for appending, so lines from threads and processes never interleave,
    and each write opens the file anew, so a log rotated away is followed at once."""

    def __init__(self, target: str | Path, questions: bool = False, stream: TextIO | None = None) -> None:
        self.target = target if str(target) == STDOUT else Path(target).expanduser()
        self.questions = questions
        self.stream = stream  # for "-": default sys.stdout, looked up at each write
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditLog:
        return cls(audit_target(settings), questions=settings.audit_questions)

    def record(self, action: str, *, user: str | None, address: str, route: str, status: int | str,
               collections: Iterable[str] = (), question: str | None = None, target: str | None = None) -> None:
        event = AuditEvent(datetime.now(UTC).isoformat(timespec="milliseconds"), user, address, route, action,
                           tuple(sorted(set(collections))), status,
                           question if self.questions else None, target)
        self.write(event)

    def write(self, event: AuditEvent) -> None:
        line = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if isinstance(self.target, str):
                out = self.stream or sys.stdout
                out.write(line)
                out.flush()
                return
            try:  # raising, not swallowed: a change that cannot be audited should not pass unseen
                self.target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # it names people
                try:
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
            except OSError as e:
                raise ConfigError(f"Cannot write the audit log {self.target}: {e.strerror or e}.") from None


def audit_target(settings: Settings) -> str | Path:
    if settings.audit_log == STDOUT:
        return STDOUT
    return Path(settings.audit_log).expanduser() if settings.audit_log else Path(settings.store) / "audit.jsonl"


_PERIOD = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def parse_when(text: str, end: bool = False) -> datetime:
    """A time from YYYY, YYYY-MM, YYYY-MM-DD or a full ISO 8601 time (UTC unless it says).
    A period stands for its start, or with `end` for the start of the next one (exclusive)."""
    m = _PERIOD.fullmatch(text.strip())
    try:
        if m is None:
            return _aware(datetime.fromisoformat(text.strip()))
        y, mo, d = int(m[1]), int(m[2] or 1), int(m[3] or 1)
        start = datetime(y, mo, d, tzinfo=UTC)
        if not end:
            return start
        if m[3]:
            return start + timedelta(days=1)
        if m[2]:
            return datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=UTC)
        return datetime(y + 1, 1, 1, tzinfo=UTC)
    except ValueError:
        raise AccountError(f"Bad date {text!r}: use YYYY-MM-DD (or YYYY, YYYY-MM, or an ISO 8601 time "
                           "such as 2026-01-31T14:00).") from None


def read_events(path: str | Path, since: datetime | str | None = None, until: datetime | str | None = None,
                user: str | None = None, action: str | None = None) -> Iterator[AuditEvent]:
    """The events of a log file in order, filtered: since (inclusive) and until (exclusive for a
    time, the whole day/month/year for a date given as text). Malformed lines are skipped with a
    warning: a log cut short by a crash or edited by hand must still be readable."""
    start = parse_when(since) if isinstance(since, str) else since
    stop = parse_when(until, end=True) if isinstance(until, str) else until
    start, stop = (_aware(t) if t else None for t in (start, stop))
    try:
        fh = Path(path).expanduser().open(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise AccountError(f"No audit log at {path} (nothing recorded yet, or `audit_log` names another file).") \
            from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                event = AuditEvent.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                log.warning("audit log %s: line %d is not an event; skipped", path, n)
                continue
            if (start and event.when < start) or (stop and event.when >= stop) \
                    or (user is not None and event.user != user) or (action is not None and event.action != action):
                continue
            yield event

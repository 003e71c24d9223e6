"""`assistant feedback list|export`: the admin page's weekly counts and gaps as text, and the
verdicts written out as evaluation cases (docs/feedback.md). Registered by cli.py."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.accounts import History
    from assistant.app.feedback_report import FeedbackReport


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    text = "feedback and refusals: weekly counts and gaps, or verdicts exported as evaluation cases"
    p = sub.add_parser("feedback", help=text, description=text + " (docs/feedback.md).")
    fs = p.add_subparsers(dest="feedback_command", required=True, metavar="COMMAND")
    since = argparse.ArgumentParser(add_help=False)
    since.add_argument("--since", help="from this date on (YYYY-MM-DD, YYYY-MM, YYYY or ISO 8601; UTC)")
    q = fs.add_parser("list", parents=[common, since], help="weekly counts, and failed questions grouped by "
                      "similarity (asked since --since)")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q = fs.add_parser("export", parents=[common, since], help="write each verdict (given since --since) as a case "
                      "for `python -m evals answers --questions`")
    q.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")


def cmd_feedback(args: argparse.Namespace) -> int:
    from assistant.accounts import History
    from assistant.app.cli_users import state_settings

    since = _since(args.since)  # a bad date fails before the database is opened
    if args.feedback_command == "export":
        _check_writable(args.out)
    settings = state_settings(args)
    history = History.open(settings)
    try:
        if args.feedback_command == "export":
            return export(history, since, args.out)
        from assistant.app.feedback_report import feedback_report
        from assistant.index.embedding import load_embedder

        embedder = load_embedder(settings.embed_model, settings.embed_dtype, settings.device)
        report = feedback_report(history, embedder, since)
    finally:
        history.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        print_report(report)
    return 0


def print_report(report: FeedbackReport) -> None:
    if report.empty:
        print("No feedback or refusals yet.")
        return
    print("Week of      answered  refused  thumbs-down  thumbs-up")
    for w in report.weeks:
        print(f"{w.monday:%Y-%m-%d}  {w.answers:>8}  {w.refusals:>7}  {w.down:>11}  {w.up:>9}")
    print(f"\n{len(report.gaps)} gap(s): refused or thumbs-down questions, similar ones together, most asked first")
    for g in report.gaps:
        print(f"\n{g.count:>4}x  {g.refused} refused, {g.down} thumbs-down, last {g.last_asked:%Y-%m-%d %H:%M}  "
              f"{_printable(g.question)}")
        if g.after:
            print(f"       after: {_printable(g.after)}")
        for wording in dict.fromkeys(f.question for f in g.examples if f.question != g.question):
            print(f"       also: {_printable(wording)}")
        for c in g.comments[:5]:
            print(f"       comment: {_printable(c)}")


def export(history: History, since: datetime | None, out: Path) -> int:
    from assistant.app.feedback_cases import KINDS, export_cases, write_cases

    cases = export_cases(history, since)
    try:
        write_cases(cases, out)
    except OSError as e:
        raise AssistantError(f"Cannot write {out}: {e.strerror or e}.") from None
    counts = Counter(c.kind for c in cases)
    print(f"Wrote {len(cases)} case(s) to {out}: " + ", ".join(f"{counts[k]} {k}" for k in KINDS) + ".")
    return 0


def _since(text: str | None) -> datetime | None:
    from assistant.accounts import parse_when

    return parse_when(text) if text else None


def _check_writable(out: Path) -> None:
    """Before the database is read: a folder, or a parent that is missing, fails at once."""
    if out.is_dir():
        raise AssistantError(f"Cannot write {out}: it is a folder; give a file name (cases.jsonl).")
    if not out.parent.is_dir():
        raise AssistantError(f"Cannot write {out}: the folder {out.parent} does not exist.")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """User input as the terminal gets it: no escape sequences, one line."""
    return " ".join(_CONTROL.sub("\ufffd", text.replace("\n", " ")).split())

"""`assistant history`: a user's saved conversations, listed, or written out as Markdown and JSON
(one pair of files per conversation), for the user to keep or an admin to hand over."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.types import Answer

if TYPE_CHECKING:
    from assistant.accounts import History


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    text = "a user's saved conversations: listed, or exported as Markdown and JSON"
    p = sub.add_parser("history", parents=[common], help=text, description=text + ".")
    p.add_argument("--user", required=True, help='whose ("local" for the open single-user chat)')
    p.add_argument("--export", type=Path, metavar="DIR", help="write each conversation as DIR/<date>-<id>.md and .json")
    p.add_argument("--json", action="store_true", help="list as one JSON object")


def cmd_history(args: argparse.Namespace) -> int:
    # Here, not at the top: every `assistant` command imports this module for its parser, and
    # the accounts' database (SQLAlchemy, Alembic) is for the commands that read it.
    from assistant.accounts import History
    from assistant.app.cli_users import state_settings

    history = History.open(state_settings(args))
    try:
        return run(args, history)
    finally:
        history.close()


def run(args: argparse.Namespace, history: History) -> int:
    from assistant.app.ui_render import Turn, export_markdown

    listed = history.conversations(args.user, limit=100_000)
    if args.export is None:
        if args.json:
            print(json.dumps({"conversations": [c.to_dict() for c in listed]}, ensure_ascii=False, indent=1))
        for c in [] if args.json else listed:
            print(f"{c.updated:%Y-%m-%d %H:%M}  {c.turns:>3} turns  {c.id}  {c.title}")
        if not listed and not args.json:
            print(f"No saved conversations for {args.user!r}.")
        return 0
    args.export.mkdir(parents=True, exist_ok=True)
    for info in listed:
        whole = history.conversation(args.user, info.id)
        if whole is None:  # deleted meanwhile
            continue
        stem = args.export / f"{info.created:%Y%m%d-%H%M%S}-{info.id[:8]}"
        turns = [Turn(t.question, Answer.from_dict(t.answer)) for t in whole.turns]
        stem.with_suffix(".md").write_text(export_markdown(turns, _one_line(info.title)), encoding="utf-8")
        stem.with_suffix(".json").write_text(json.dumps(whole.to_dict(), ensure_ascii=False, indent=1) + "\n",
                                             encoding="utf-8")
    print(f"Wrote {len(listed)} conversation(s) of {args.user!r} to {args.export} (Markdown and JSON).")
    return 0


def _one_line(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip() or "Conversation"

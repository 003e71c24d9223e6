"""`assistant users ...` (accounts, roles, grants, passwords, API keys) and `assistant audit`
(the audit log, filtered). Registered by cli.py; the database is opened only when a command
runs, so that other commands never import SQLAlchemy or argon2."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.accounts import Accounts, AuditEvent, Principal

ROLES = ("reader", "editor", "admin")  # assistant.accounts.Role, named here so that parsing imports nothing


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _date(text: str) -> str:
    from assistant.accounts import AccountError, parse_when

    try:
        parse_when(text)
    except AccountError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    text = "the app's users: their roles, collections, passwords and API keys"
    users = sub.add_parser("users", help=text, description=text + ". A reader asks and searches the collections "
                           "granted; an editor also uploads to and removes from those granted for writing; an "
                           "admin has every collection and manages users.")
    us = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    grants = argparse.ArgumentParser(add_help=False)
    grants.add_argument("--collections", type=_names, default=[], metavar="A,B", help="collections to read")
    grants.add_argument("--write", type=_names, default=[], metavar="A,B",
                        help="collections to write (an editor's uploads and removals; implies reading)")
    stdin = argparse.ArgumentParser(add_help=False)
    stdin.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input (else it is asked twice)")
    p = us.add_parser("add", parents=[common, grants, stdin], help="add a user")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p = us.add_parser("list", parents=[common], help="every user, their role, collections and number of keys")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = us.add_parser("remove", parents=[common], help="remove a user (their API keys and sessions stop at once)")
    p.add_argument("name")
    p = us.add_parser("passwd", parents=[common, stdin], help="set a user's password (ends their chat sessions)")
    p.add_argument("name")
    p = us.add_parser("role", parents=[common], help="change a user's role")
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    p = us.add_parser("grant", parents=[common, grants], help="let a user read (or write) more collections")
    p.add_argument("name")
    p = us.add_parser("revoke", parents=[common], help="take collections away from a user")
    p.add_argument("name")
    p.add_argument("--collections", type=_names, required=True, metavar="A,B")
    p = us.add_parser("key", parents=[common], help="make an API key for a user (printed once), or revoke theirs")
    p.add_argument("name")
    p.add_argument("--revoke", nargs="?", const=ALL_KEYS, metavar="KEY",
                   help="instead, delete only the key that starts with KEY (as `users keys` shows it); "
                        "without KEY, every key of the user")
    p = us.add_parser("keys", parents=[common], help="a user's API keys: the start of each, and when it was made")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    text = "print the audit log: logins, questions, reads and changes"
    p = sub.add_parser("audit", parents=[common], help=text, description=text + " (one line per event).")
    p.add_argument("--since", type=_date, help="from this date or time on (YYYY-MM-DD, or ISO 8601; UTC)")
    p.add_argument("--until", type=_date, help="up to this date (the whole day) or time (UTC)")
    p.add_argument("--user", help="only this user's events")
    p.add_argument("--action", help="only this action (login, failed-login, ask, upload, user-change, ...)")
    p.add_argument("--log", metavar="FILE", help="the log file (default: the `audit_log` setting)")
    p.add_argument("--json", action="store_true", help="print the events as JSON lines")


def state_settings(args: argparse.Namespace) -> Settings:
    """The settings a state command needs: the store (where state.db is) and state_url."""
    return Settings.load(args.config, store=args.store, chroma_url=args.chroma_url,
                         state_url=getattr(args, "state_url", None))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no $USER and no passwd entry (some containers)
        return "unknown"


def _password(args: argparse.Namespace) -> str:
    from assistant.accounts import AccountError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.name}: ")
    if first and getpass.getpass("The same again: ") != first:
        raise AccountError("The passwords do not match.")
    return first


def _access(p: Principal) -> str:
    if p.read is None:
        return f"{p.name} ({p.role.value}) reads and writes every collection, and manages users."
    reads = ", ".join(sorted(p.read)) or "no collection"
    writes = f"; writes {', '.join(sorted(p.write))}" if p.write else ""
    return f"{p.name} ({p.role.value}) reads {reads}{writes}."


def _add(accounts: Accounts, args: argparse.Namespace) -> str:
    from assistant.accounts import AccountError
    from assistant.accounts.principal import check_collections, check_user_name

    check_user_name(args.name)
    check_collections(args.collections + args.write)
    if accounts.get(args.name) is not None:  # before asking for a password
        raise AccountError(f"A user named {args.name!r} already exists.")
    p = accounts.add(args.name, args.role, _password(args), read=args.collections, write=args.write)
    return "Added " + _access(p)


def _passwd(accounts: Accounts, args: argparse.Namespace) -> str:
    from assistant.accounts import AccountError

    if accounts.get(args.name) is None:
        raise AccountError(f"No user named {args.name!r} (`assistant users list` shows them).")
    accounts.passwd(args.name, _password(args))
    return f"Changed the password of {args.name}; their chat sessions have ended."


def _remove(accounts: Accounts, args: argparse.Namespace) -> str:
    accounts.remove(args.name)
    return f"Removed {args.name}; their API keys and sessions no longer work."


ALL_KEYS = "all"  # `--revoke` given without a key


def _key(accounts: Accounts, args: argparse.Namespace) -> str:
    if args.revoke:
        which = None if args.revoke == ALL_KEYS else args.revoke
        n = accounts.revoke_keys(args.name, which)
        return f"Revoked {n} API key{'s' * (n != 1)} of {args.name}" + (f" ({which[:7]}...)." if which else ".")
    key = accounts.new_key(args.name)
    print(f"A new API key for {args.name}, shown this once (only its hash is kept):", file=sys.stderr)
    return key


CHANGES: dict[str, Callable[[Accounts, argparse.Namespace], str]] = {
    "add": _add, "passwd": _passwd, "remove": _remove, "key": _key,
    "role": lambda a, args: "Now " + _access(a.set_role(args.name, args.role)),
    "grant": lambda a, args: "Now " + _access(a.grant(args.name, read=args.collections, write=args.write)),
    "revoke": lambda a, args: "Now " + _access(a.revoke(args.name, args.collections)),
}


def cmd_users(args: argparse.Namespace) -> int:
    from assistant.accounts import AccountError, Accounts, AuditLog
    from assistant.accounts.audit import audit_target

    settings = state_settings(args)
    with Accounts.open(settings) as accounts:
        if args.users_command == "list":
            _list(accounts, args.json)
            return 0
        if args.users_command == "keys":
            _keys(accounts, args.name, args.json)
            return 0
        # "-" sends the server's events to standard output; here that is the command's own output.
        audit = AuditLog(audit_target(settings), questions=False, stream=sys.stderr)
        route = f"users {args.users_command}" + (" --revoke" if getattr(args, "revoke", None) else "")
        collections = getattr(args, "collections", []) + getattr(args, "write", [])
        try:
            out = CHANGES[args.users_command](accounts, args)
        except AccountError:
            audit.record("user-change", user=_os_user(), address="cli", route=route, status="refused",
                         collections=collections, target=args.name)
            raise
        audit.record("user-change", user=_os_user(), address="cli", route=route, status="ok",
                     collections=collections, target=args.name)
    print(out)
    return 0


def _list(accounts: Accounts, as_json: bool) -> None:
    users = accounts.users()
    if as_json:
        print(json.dumps({"users": [u.to_dict() for u in users]}, indent=1))
        return
    if not users:
        print("No users yet: `assistant users add NAME --role admin` makes the first.")
        return
    print(f"{'name':20}  {'role':6}  {'keys':>4}  {'created':25}  collections (* writable)")
    for u in users:
        cols = "every collection" if u.role.value == "admin" else \
            ", ".join(c + "*" * (c in u.write) for c in u.read) or "none"
        print(f"{u.name:20}  {u.role.value:6}  {u.keys:>4}  {u.created:25}  {cols}")


def _keys(accounts: Accounts, name: str, as_json: bool) -> None:
    found = accounts.keys(name)
    if as_json:
        print(json.dumps({"user": name, "keys": [k.to_dict() for k in found]}, indent=1))
    elif not found:
        print(f"{name} has no API key: `assistant users key {name}` makes one.")
    else:
        print(f"{'key starts':12}  created")
        for k in found:
            print(f"{k.hint + '...':12}  {k.created}")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    return _CONTROL.sub("\ufffd", text)  # a log line must not drive the terminal


def _event_line(e: AuditEvent) -> str:
    bits = [e.time, e.user or "-", e.address, e.action, str(e.status), e.route]
    if e.collections:
        bits.append("[" + ",".join(e.collections) + "]")
    if e.target is not None:
        bits.append(f"target={e.target}")
    if e.question is not None:
        bits.append(json.dumps(e.question, ensure_ascii=False))
    return _printable("  ".join(bits))


def cmd_audit(args: argparse.Namespace) -> int:
    from assistant.accounts import AccountError, read_events
    from assistant.accounts.audit import STDOUT, audit_target

    where = args.log or audit_target(state_settings(args))
    if str(where) == STDOUT:
        raise AccountError("The audit log goes to standard output (audit_log = \"-\"), so there is no file "
                           "to read: give one with --log FILE.")
    for e in read_events(where, since=args.since, until=args.until, user=args.user, action=args.action):
        print(json.dumps(e.to_dict(), ensure_ascii=False) if args.json else _event_line(e))
    return 0

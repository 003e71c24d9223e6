"""The app's own state (users, roles, grants, passwords, API keys, sessions) on SQLite and on a
real PostgreSQL (tests/pg.py; those tests are slow), the `users` and `audit` commands, and
the audit log."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import MetaData, select

from assistant.accounts import (
    AccountError,
    Accounts,
    AuditEvent,
    AuditLog,
    Principal,
    Role,
    db,
    parse_when,
    passwords,
    read_events,
)
from assistant.accounts import accounts as accounts_module
from assistant.app.cli import main
from assistant.errors import ConfigError
from assistant.settings import Settings

from conftest import ROOT


class CountingHasher(PasswordHasher):
    """Cheap parameters (the suite hashes hundreds of times), and a count of verifies."""

    def __init__(self, **kw: int) -> None:
        super().__init__(**({"time_cost": 1, "memory_cost": 1024, "parallelism": 1} | kw))
        self.verifies = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifies += 1
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    h = CountingHasher()
    monkeypatch.setattr(passwords, "HASHER", h)
    return h


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(params=BACKENDS)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings whose state database is fresh: SQLite in the store folder, or a new PostgreSQL database."""
    settings = Settings(store=tmp_path / "store")
    if request.param == "postgresql":
        settings = settings.replace(state_url=request.getfixturevalue("pg_server").new_database())
    return settings


@pytest.fixture
def accounts(state: Settings) -> Iterator[Accounts]:
    with Accounts.open(state) as a:
        yield a


def rows_as_text(a: Accounts) -> str:
    """Every row of every table, as text: where a secret must not be."""
    meta = MetaData()
    meta.reflect(a.engine)
    with a.engine.connect() as conn:
        return repr([conn.execute(select(t)).all() for t in meta.sorted_tables])


# -- users, roles and grants -------------------------------------------------------------------

def test_users_are_added_listed_and_removed(accounts: Accounts) -> None:
    assert not accounts.any_users()
    accounts.add("rita", "reader", "pw-rita", read=["main"])
    accounts.add("ed", Role.EDITOR, "pw-ed", read=["main"], write=["hr"])
    accounts.add("ada", "admin", "pw-ada")
    assert accounts.any_users()
    listed = {u.name: u for u in accounts.users()}
    assert [u.name for u in accounts.users()] == ["ada", "ed", "rita"]
    assert (listed["ed"].role, listed["ed"].read, listed["ed"].write, listed["ed"].keys) == \
        (Role.EDITOR, ("hr", "main"), ("hr",), 0)
    assert (listed["ada"].read, listed["ada"].write) == ((), ())  # an admin's: every collection
    assert datetime.fromisoformat(listed["rita"].created) <= datetime.now(UTC)
    assert accounts.get("ed") == Principal("ed", Role.EDITOR, frozenset({"main", "hr"}), frozenset({"hr"}))
    accounts.remove("ed")
    assert accounts.get("ed") is None
    assert [u.name for u in accounts.users()] == ["ada", "rita"]
    with pytest.raises(AccountError, match="No user named 'ed'"):
        accounts.remove("ed")


def test_roles_decide_what_a_principal_may_read_and_write() -> None:
    reader = Principal.build("r", Role.READER, [("main", False), ("hr", True)])  # a stored write is ignored
    editor = Principal.build("e", Role.EDITOR, [("main", False), ("hr", True)])
    admin = Principal.build("a", Role.ADMIN, [("main", False)])
    assert reader.can_read("hr") and reader.can_read("main") and not reader.can_read("legal")
    assert not reader.can_write("hr") and reader.write == frozenset()
    assert editor.can_write("hr") and not editor.can_write("main") and editor.can_read("hr")
    assert admin.can_read("anything") and admin.can_write("anything") and admin.is_admin
    assert reader.readable == ("hr", "main") and admin.readable is None
    assert Role("editor") is Role.EDITOR and Role.EDITOR == "editor"


def test_grants_add_and_revokes_take_away(accounts: Accounts) -> None:
    accounts.add("ed", "editor", "pw", read=["main"])
    p = accounts.grant("ed", write=["hr"])  # writing implies reading
    assert p.can_read("hr") and p.can_write("hr") and not p.can_write("main")
    p = accounts.grant("ed", write=["main"], read=["legal"])  # a read grant becomes a write grant
    assert p.write == {"hr", "main"} and p.read == {"hr", "main", "legal"}
    p = accounts.grant("ed", read=["hr"])  # granting reading takes no writing away
    assert p.can_write("hr")
    p = accounts.revoke("ed", ["hr", "legal"])
    assert p.read == {"main"} and p.write == {"main"}
    assert accounts.get("ed") == p
    with pytest.raises(AccountError, match="ed has no grant on hr, zzz"):
        accounts.revoke("ed", ["zzz", "hr", "main"])
    assert accounts.get("ed") == p  # nothing revoked when one name was wrong


def test_a_role_change_keeps_the_rules(accounts: Accounts) -> None:
    accounts.add("ed", "editor", "pw", write=["hr"])
    assert accounts.set_role("ed", "reader").write == frozenset()
    assert accounts.set_role("ed", "editor").write == frozenset()  # no write grant comes back unasked
    assert accounts.set_role("ed", "admin").can_write("hr")
    assert accounts.set_role("ed", "reader").read == frozenset()  # an admin's grants are gone


@pytest.mark.parametrize(("call", "message"), [
    (lambda a: a.add("alice", "reader", "pw"), "A user named 'alice' already exists"),
    (lambda a: a.add("ALICE", "reader", "pw"), "A user named 'alice' already exists"),
    (lambda a: a.add("bob", "boss", "pw"), "Unknown role 'boss': use reader, editor or admin"),
    (lambda a: a.add("bob", "reader", ""), "The password is empty"),
    (lambda a: a.add("bob:x", "reader", "pw"), "Bad user name 'bob:x'"),
    (lambda a: a.add("", "reader", "pw"), "Bad user name ''"),
    (lambda a: a.add("bob", "reader", "pw", read=["no spaces"]), "Bad collection name 'no spaces'"),
    (lambda a: a.add("bob", "reader", "pw", read=["x" * 65]), "Bad collection name"),
    (lambda a: a.add("bob", "reader", "pw", write=["hr"]), "bob is a reader, who cannot write"),
    (lambda a: a.add("bob", "admin", "pw", read=["hr"]), "bob is an admin, who reads and writes every"),
    (lambda a: a.grant("alice"), "Name the collections to grant"),
    (lambda a: a.grant("nobody", read=["hr"]), "No user named 'nobody'"),
    (lambda a: a.grant("alice", write=["hr"]), "alice is a reader, who cannot write"),
    (lambda a: a.revoke("alice", []), "Name the collections to revoke"),
    (lambda a: a.passwd("nobody", "pw"), "No user named 'nobody'"),
    (lambda a: a.passwd("alice", ""), "The password is empty"),
    (lambda a: a.new_key("nobody"), "No user named 'nobody'"),
    (lambda a: a.start_session("nobody"), "No user named 'nobody'"),
    (lambda a: a.set_role("alice", "root"), "Unknown role 'root'"),
])
def test_mistakes_have_clear_messages(tmp_path: Path, call, message: str) -> None:
    with Accounts.open(Settings(store=tmp_path)) as a:
        a.add("alice", "reader", "pw", read=["main"])
        with pytest.raises(AccountError, match=message):
            call(a)
        assert [u.name for u in a.users()] == ["alice"]


def test_names_are_checked() -> None:
    from assistant.accounts.principal import check_collections, check_user_name

    assert check_collections(["a-b_c.d", "x" * 64, "2026"]) == {"a-b_c.d", "x" * 64, "2026"}
    for bad in ["", "a b", "a/b", "é", "x" * 65, "a,b"]:
        with pytest.raises(AccountError):
            check_collections([bad])
    assert check_user_name("jo.smith+ops@example.org") == "jo.smith+ops@example.org"
    for bad in ["", "-x", "a b", "a:b", "x" * 65, "a\nb"]:
        with pytest.raises(AccountError):
            check_user_name(bad)
    with pytest.raises(TypeError):
        check_collections("main")  # would be four one-letter names


# -- passwords, keys and sessions --------------------------------------------------------------

def test_passwords_are_checked_and_changed(accounts: Accounts) -> None:
    accounts.add("alice", "editor", "correct horse", write=["hr"])
    assert accounts.check_password("alice", "correct horse") == accounts.get("alice")
    assert accounts.check_password("alice", "wrong") is None
    assert accounts.check_password("alice", "") is None
    assert accounts.check_password("nobody", "correct horse") is None
    accounts.passwd("alice", "battery staple")
    assert accounts.check_password("alice", "correct horse") is None  # cached before: not any more
    assert accounts.check_password("alice", "battery staple") is not None


def test_a_verified_password_is_cached_only_while_the_stored_hash_is_unchanged(state: Settings,
                                                                               hasher: CountingHasher) -> None:
    with Accounts.open(state) as one, Accounts.open(state) as other:  # two servers sharing the database
        one.add("alice", "reader", "pw", read=["main"])
        assert one.check_password("alice", "pw") is not None
        before = hasher.verifies
        for _ in range(5):
            assert one.check_password("alice", "pw") is not None
        assert hasher.verifies == before  # served from the cache
        other.grant("alice", read=["hr"])
        assert one.check_password("alice", "pw").can_read("hr")  # type: ignore[union-attr]  # grants re-read
        other.passwd("alice", "new")
        assert one.check_password("alice", "pw") is None
        assert one.check_password("alice", "new") is not None
        other.remove("alice")
        assert one.check_password("alice", "new") is None


def test_an_unknown_name_costs_the_same_argon2_verify_as_a_wrong_password(accounts: Accounts,
                                                                           hasher: CountingHasher) -> None:
    accounts.add("alice", "reader", "pw")
    accounts.create_reader("proxied")  # no password at all
    for name, password in [("alice", "wrong"), ("nobody", "wrong"), ("proxied", "x"), ("bad name!", "x"),
                           ("alice", "")]:
        before = hasher.verifies
        assert accounts.check_password(name, password) is None
        assert hasher.verifies == before + 1, name


def test_an_unknown_name_takes_about_as_long_as_a_wrong_password(accounts: Accounts,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Loose, against the clock: argon2 (about 10 ms here) dominates both, the database read is small."""
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1))
    accounts.add("alice", "reader", "pw")

    def best(name: str) -> float:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            accounts.check_password(name, "wrong")
            times.append(time.perf_counter() - t)
        return min(times)

    accounts.check_password("nobody", "warm-up")
    known, unknown = best("alice"), best("nobody")
    assert 0.33 < unknown / known < 3, (known, unknown)


def test_api_keys_are_shown_once_and_stored_hashed(state: Settings, accounts: Accounts) -> None:
    accounts.add("alice", "editor", "s3cret-Password", write=["hr"])
    key = accounts.new_key("alice")
    other = accounts.new_key("alice")
    assert key.startswith("ra_") and len(key) > 40 and key != other
    assert accounts.check_key(key) == accounts.get("alice") == accounts.check_key(other)
    assert accounts.users()[0].keys == 2
    for wrong in [key[:-1], key + "x", "", "ra_", other.upper(), "x" * 5000]:
        assert accounts.check_key(wrong) is None
    token = accounts.start_session("alice")
    stored = rows_as_text(accounts)
    for secret in (key, other, "s3cret-Password", token):
        assert secret not in stored
    assert passwords.digest(key) in stored  # what is stored instead
    if state.state_url is None:  # and the file itself, journal included
        raw = b"".join(p.read_bytes() for p in state.store.glob("state.db*"))
        for secret in (key, other, "s3cret-Password", token):
            assert secret.encode() not in raw
        if os.name == "posix":
            assert (state.store / "state.db").stat().st_mode & 0o077 == 0
    assert accounts.revoke_keys("alice") == 2
    assert accounts.check_key(key) is None and accounts.check_key(other) is None


def test_one_api_key_is_listed_and_revoked_alone(accounts: Accounts) -> None:
    accounts.add("alice", "reader", "pw", read=["main"])
    accounts.add("bob", "reader", "pw", read=["main"])
    first, second, third = (accounts.new_key("alice") for _ in range(3))
    bobs = accounts.new_key("bob")
    listed = accounts.keys("alice")
    assert [k.hint for k in listed] == [first[:7], second[:7], third[:7]]
    shown = json.dumps([k.to_dict() for k in listed])
    assert not any(key in shown or passwords.digest(key) in shown for key in (first, second, third))
    assert accounts.revoke_keys("alice", second[:7]) == 1  # by the start `keys` shows
    assert accounts.check_key(second) is None and accounts.check_key(first) and accounts.check_key(third)
    assert accounts.revoke_keys("alice", third) == 1  # or whole
    assert accounts.check_key(third) is None and accounts.check_key(first)
    for wrong, message in [(bobs[:7], "alice has no API key"), (bobs, "alice has no API key"),
                           (third[:7], "alice has no API key"), ("ra_", "first 7 characters"),
                           ("all", "first 7 characters"), (first[:7] + "zz", "alice has no API key")]:
        with pytest.raises(AccountError, match=message):
            accounts.revoke_keys("alice", wrong)
    assert accounts.check_key(first) and accounts.check_key(bobs)  # someone else's key is never theirs to revoke
    assert [k.hint for k in accounts.keys("alice")] == [first[:7]]


def test_a_removed_users_key_and_session_stop_working_at_once(state: Settings, accounts: Accounts) -> None:
    accounts.add("alice", "reader", "pw", read=["main"])
    key, token = accounts.new_key("alice"), accounts.start_session("alice")
    assert accounts.check_password("alice", "pw") and accounts.session(token) and accounts.check_key(key)
    with Accounts.open(state) as other:
        other.remove("alice")
    assert accounts.check_key(key) is None
    assert accounts.session(token) is None
    assert accounts.check_password("alice", "pw") is None
    accounts.add("alice", "reader", "pw")  # the name again: a new user, none of the old credentials
    assert accounts.check_key(key) is None and accounts.session(token) is None
    assert passwords.digest(key) not in rows_as_text(accounts)


def test_sessions_start_end_and_expire(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.add("alice", "reader", "pw", read=["main"])
    token = accounts.start_session("alice")
    assert accounts.session(token) == accounts.get("alice")
    assert accounts.session(token + "x") is None and accounts.session("") is None
    accounts.end_session(token)
    assert accounts.session(token) is None
    token = accounts.start_session("alice")
    start = datetime.now(UTC)
    monkeypatch.setattr(accounts_module, "now", lambda: start + timedelta(hours=accounts.session_hours - 0.01))
    assert accounts.session(token) is not None
    monkeypatch.setattr(accounts_module, "now", lambda: start + timedelta(hours=accounts.session_hours + 0.01))
    assert accounts.session(token) is None
    fresh = accounts.start_session("alice")  # and the expired one is cleared away
    assert accounts.session(fresh) is not None
    monkeypatch.undo()
    assert accounts.session(token) is None  # gone from the table, not only out of date


def test_a_new_password_ends_the_users_sessions_but_not_their_keys(accounts: Accounts) -> None:
    accounts.add("alice", "reader", "pw")
    accounts.add("bob", "reader", "pw")
    mine, bobs, key = accounts.start_session("alice"), accounts.start_session("bob"), accounts.new_key("alice")
    accounts.passwd("alice", "new")
    assert accounts.session(mine) is None and accounts.session(bobs) is not None
    assert accounts.check_key(key) is not None
    assert accounts.end_sessions("bob") == 1 and accounts.session(bobs) is None


def test_ensure_admin_creates_then_changes_only_what_differs(accounts: Accounts) -> None:
    p = accounts.ensure_admin("boss", "first")
    assert p.role is Role.ADMIN and accounts.check_password("boss", "first") == p
    token = accounts.start_session("boss")
    accounts.ensure_admin("boss", "first")  # a server restart: the login survives
    assert accounts.session(token) is not None
    accounts.ensure_admin("boss", "second")  # the environment's password changed
    assert accounts.session(token) is None
    assert accounts.check_password("boss", "first") is None and accounts.check_password("boss", "second")
    accounts.add("ed", "editor", "pw", write=["hr"])
    assert accounts.ensure_admin("ed", "pw").role is Role.ADMIN


def test_a_proxys_reader_has_no_collections_and_no_password(accounts: Accounts) -> None:
    p = accounts.create_reader("jo@example.org")
    assert p == Principal("jo@example.org", Role.READER, frozenset(), frozenset())
    assert accounts.create_reader("jo@example.org") == p  # two first requests at once
    for guess in ["", "x", "None", "null"]:
        assert accounts.check_password("jo@example.org", guess) is None
    with pytest.raises(AccountError, match="Bad user name"):
        accounts.create_reader("two words")


def test_threads_share_one_accounts_object(accounts: Accounts) -> None:
    accounts.add("alice", "reader", "pw", read=["main"])
    token = accounts.start_session("alice")
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert accounts.check_password("alice", "pw") is not None
                assert accounts.session(token) is not None
                accounts.end_session(accounts.start_session("alice"))
        except BaseException as e:  # noqa: BLE001 (reported below)
            failures.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# -- the database and its migrations -----------------------------------------------------------

def test_migrating_again_changes_nothing_and_the_schema_matches_the_code(state: Settings) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from assistant.accounts.tables import metadata

    with Accounts.open(state) as a:
        a.add("alice", "reader", "pw")
        db.migrate(a.engine)
        with a.engine.begin() as conn:  # the real upgrade, past the at-head shortcut
            cfg = db._alembic_config(conn)
            from alembic import command
            command.upgrade(cfg, "head")
        with a.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": db.VERSION_TABLE})
            assert context.get_current_heads() == ("0003",)  # the newest revision
            assert compare_metadata(context, metadata) == []
    with Accounts.open(state) as a:
        assert [u.name for u in a.users()] == ["alice"]


OPEN_AT_ONCE = """
import sys, time
from assistant.accounts import Accounts
from assistant.settings import Settings
start = float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
with Accounts.open(Settings(store=sys.argv[1], state_url=sys.argv[2] or None)) as a:
    a.create_reader("r" + sys.argv[4])
print("ok")
"""


@pytest.mark.slow
def test_processes_opening_a_fresh_database_at_once_all_succeed(state: Settings) -> None:
    start = time.time() + 2.5  # all of them imported and waiting by then
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, str(state.store), state.state_url or "",
                               str(start), str(n)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}) for n in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [(p.returncode, out.strip()) for p, (out, _err) in zip(procs, results)] == [(0, "ok")] * 3, results
    with Accounts.open(state) as a:
        assert [u.name for u in a.users()] == ["r0", "r1", "r2"]


def test_the_database_url_comes_from_the_settings(tmp_path: Path) -> None:
    assert db.database_url(Settings(store=tmp_path)).database == str(tmp_path / "state.db")
    url = db.database_url(Settings(state_url="postgresql://u:pw@db.example.org/state"))
    assert url.drivername == "postgresql+psycopg" and url.host == "db.example.org"
    assert db.database_url(Settings(state_url="postgresql+psycopg://u@h/d")).drivername == "postgresql+psycopg"
    with pytest.raises(ConfigError, match="state_url is not a database URL"):
        db.database_url(Settings(state_url="not a url"))


def test_an_unreachable_database_is_a_clear_error_without_its_password(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path, state_url="postgresql://someone:hunter2@127.0.0.1:1/state")
    with pytest.raises(ConfigError, match=r"Cannot open the state database postgresql\+psycopg://someone:\*\*\*") \
            as caught:
        Accounts.open(settings)
    assert "hunter2" not in str(caught.value)


# -- the audit log -----------------------------------------------------------------------------

def test_the_audit_log_is_written_and_read_back_with_filters(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    log = AuditLog(path)
    log.record("login", user="alice", address="10.0.0.5", route="POST /login", status=200)
    log.record("ask", user="alice", address="10.0.0.5", route="POST /api/ask", status=200,
               collections=["hr", "main", "hr"], question="What did the board decide?")
    log.record("failed-login", user="mallory", address="10.0.0.9", route="POST /login", status=401)
    events = list(read_events(path))
    assert [e.action for e in events] == ["login", "ask", "failed-login"]
    assert events[1].collections == ("hr", "main") and events[1].question is None and events[1].status == 200
    line = path.read_text().splitlines()[1]
    assert "question" not in json.loads(line) and "board" not in line
    assert set(json.loads(line)) == {"time", "user", "address", "route", "action", "collections", "status"}
    assert events[0].when.tzinfo is not None and abs(events[0].when - datetime.now(UTC)) < timedelta(minutes=1)
    assert [e.user for e in read_events(path, user="mallory")] == ["mallory"]
    assert [e.action for e in read_events(path, action="ask")] == ["ask"]
    today = datetime.now(UTC).date().isoformat()
    assert len(list(read_events(path, since=today, until=today))) == 3  # until a day: the whole day
    assert list(read_events(path, since="2999-01-01")) == []
    assert list(read_events(path, until="2000")) == []
    assert len(list(read_events(path, since=datetime.now(UTC) - timedelta(minutes=5)))) == 3
    if os.name == "posix":
        assert path.stat().st_mode & 0o077 == 0


def test_question_texts_are_logged_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    settings = Settings(store=tmp_path, audit_questions=True)
    AuditLog.for_settings(settings).record("ask", user=None, address="::1", route="POST /v1/chat/completions",
                                           status="ok", question="Wer hat gezahlt?")
    (event,) = read_events(path)
    assert event.question == "Wer hat gezahlt?" and event.user is None
    assert json.loads(path.read_text())["question"] == "Wer hat gezahlt?"


def test_malformed_lines_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).record("login", user="a", address="x", route="r", status=200)
    with path.open("a") as fh:
        fh.write('{"time": "2026-01-01T00:00:00+00:00", "user": "b"\n')  # cut short by a crash
        fh.write("not json\n\n[1, 2]\n")
        fh.write('{"time": "yesterday", "user": "c", "address": "x", "route": "r", "action": "a", '
                 '"collections": [], "status": 1}\n')
    AuditLog(path).record("logout", user="a", address="x", route="r", status=200)
    with caplog.at_level(logging.WARNING):
        assert [e.action for e in read_events(path)] == ["login", "logout"]
    assert [r.getMessage() for r in caplog.records] == [
        f"audit log {path}: line {n} is not an event; skipped" for n in (2, 3, 5, 6)]


def test_appends_from_many_threads_stay_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, questions=True)

    def work(n: int) -> None:
        for i in range(100):
            log.record("ask", user=f"u{n}", address="x", route="r", status=200, question="q" * 5000 + str(i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["question"].startswith("q" * 5000) for line in lines)


def test_the_audit_log_can_go_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    AuditLog("-").record("upload", user="ed", address="1.2.3.4", route="POST /api/upload", status=201,
                         collections=["hr"])
    event = AuditEvent.from_dict(json.loads(capsys.readouterr().out))
    assert (event.action, event.collections, event.status) == ("upload", ("hr",), 201)


def test_an_audit_log_that_cannot_be_written_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="Cannot write the audit log .*file/audit.jsonl"):
        AuditLog(tmp_path / "file" / "audit.jsonl").record("login", user="a", address="x", route="r", status=200)


def test_dates_are_parsed_or_refused() -> None:
    assert parse_when("2026") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_when("2026-12", end=True) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_when("2026-02-28", end=True) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_when("2026-02-03T04:05") == datetime(2026, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_when("2026-02-03T04:05+02:00") == datetime(2026, 2, 3, 2, 5, tzinfo=UTC)
    for bad in ["2026-13-01", "yesterday", "2026-02-30", ""]:
        with pytest.raises(AccountError, match="Bad date"):
            parse_when(bad)


# -- the commands ------------------------------------------------------------------------------

def run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's usage errors
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_users_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s = ["--store", str(tmp_path / "store")]
    secrets: list[str] = ["pw-of-ed-1", "pw-of-ed-2", "pw-of-ada"]
    assert run(["users", "add", "ed", "--role", "editor", "--collections", "main,legal", "--write", "hr",
                "--password-stdin", *s], capsys, monkeypatch, "pw-of-ed-1\n")[:2] == \
        (0, "Added ed (editor) reads hr, legal, main; writes hr.\n")
    assert run(["users", "add", "ada", "--role", "admin", "--password-stdin", *s], capsys, monkeypatch,
               "pw-of-ada\n")[1] == "Added ada (admin) reads and writes every collection, and manages users.\n"
    rc, key, err = run(["users", "key", "ed", *s], capsys, monkeypatch)
    key = key.strip()
    secrets.append(key)
    assert rc == 0 and key.startswith("ra_") and "shown this once" in err
    rc, out, _ = run(["users", "list", *s], capsys, monkeypatch)
    assert rc == 0 and out.splitlines()[1].split()[:3] == ["ada", "admin", "0"]
    assert out.splitlines()[2].split()[:3] == ["ed", "editor", "1"] and out.rstrip().endswith("hr*, legal, main")
    listed = json.loads(run(["users", "list", "--json", *s], capsys, monkeypatch)[1])["users"]
    assert listed[1] | {"created": None} == {"name": "ed", "role": "editor", "read": ["hr", "legal", "main"],
                                             "write": ["hr"], "keys": 1, "created": None}
    assert run(["users", "passwd", "ed", "--password-stdin", *s], capsys, monkeypatch, "pw-of-ed-2\n")[1] == \
        "Changed the password of ed; their chat sessions have ended.\n"
    assert run(["users", "revoke", "ed", "--collections", "legal", *s], capsys, monkeypatch)[1] == \
        "Now ed (editor) reads hr, main; writes hr.\n"
    assert run(["users", "grant", "ed", "--write", "main", *s], capsys, monkeypatch)[1] == \
        "Now ed (editor) reads hr, main; writes hr, main.\n"
    assert run(["users", "role", "ed", "reader", *s], capsys, monkeypatch)[1] == "Now ed (reader) reads hr, main.\n"
    other = run(["users", "key", "ed", *s], capsys, monkeypatch)[1].strip()
    secrets.append(other)
    rc, out, _ = run(["users", "keys", "ed", *s], capsys, monkeypatch)
    assert rc == 0 and [line.split()[0] for line in out.splitlines()[1:]] == [key[:7] + "...", other[:7] + "..."]
    assert [k["hint"] for k in json.loads(run(["users", "keys", "ed", "--json", *s], capsys, monkeypatch)[1])["keys"]] \
        == [key[:7], other[:7]]
    assert run(["users", "key", "ed", "--revoke", other[:7], *s], capsys, monkeypatch)[1] == \
        f"Revoked 1 API key of ed ({other[:7]}...).\n"
    assert run(["users", "key", "ed", "--revoke", *s], capsys, monkeypatch)[1] == "Revoked 1 API key of ed.\n"
    assert run(["users", "keys", "ed", *s], capsys, monkeypatch)[1] == \
        "ed has no API key: `assistant users key ed` makes one.\n"
    assert run(["users", "remove", "ed", *s], capsys, monkeypatch)[1] == \
        "Removed ed; their API keys and sessions no longer work.\n"
    with Accounts.open(Settings(store=tmp_path / "store")) as a:
        assert a.check_password("ada", "pw-of-ada") is not None and a.get("ed") is None

    rc, out, _ = run(["audit", *s], capsys, monkeypatch)
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 11 and all("  cli  user-change  ok  users " in line for line in lines)
    assert "users key --revoke  target=ed" in lines[8] and "users key --revoke  target=ed" in lines[9]
    events = [json.loads(line) for line in run(["audit", "--json", "--action", "user-change", *s], capsys,
                                                monkeypatch)[1].splitlines()]
    assert [e["route"] for e in events][:3] == ["users add", "users add", "users key"]
    assert events[0]["collections"] == ["hr", "legal", "main"] and events[0]["target"] == "ed"
    assert events[0]["address"] == "cli" and events[0]["user"]
    assert run(["audit", "--since", "2999-01-01", *s], capsys, monkeypatch)[1] == ""
    audit_file = (tmp_path / "store" / "audit.jsonl").read_text()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in audit_file and secret not in logged
    for secret in secrets[:3]:
        assert secret not in out
    assert "argon2" not in audit_file and passwords.digest(key) not in audit_file


@pytest.mark.parametrize(("argv", "stdin", "rc", "message"), [
    (["users", "add", "ed", "--role", "editor", "--password-stdin"], "pw\n", 1, "Error: A user named 'ed' already exists."),
    (["users", "add", "bo", "--role", "boss", "--password-stdin"], "pw\n", 2, "argument --role: invalid choice: 'boss'"),
    (["users", "add", "bo", "--role", "reader", "--password-stdin"], "\n", 1, "Error: The password is empty."),
    (["users", "add", "bo", "--role", "reader", "--password-stdin"], "", 1, "Error: The password is empty."),
    (["users", "add", "b o", "--role", "reader", "--password-stdin"], "pw\n", 1, "Error: Bad user name 'b o'"),
    (["users", "add", "bo", "--role", "reader", "--collections", "a b", "--password-stdin"], "pw\n", 1,
     "Error: Bad collection name 'a b'"),
    (["users", "add", "bo", "--role", "reader", "--write", "hr", "--password-stdin"], "pw\n", 1,
     "Error: bo is a reader, who cannot write"),
    (["users", "add", "bo", "--password-stdin"], "pw\n", 2, "the following arguments are required: --role"),
    (["users", "remove", "nobody"], "", 1, "Error: No user named 'nobody'"),
    (["users", "passwd", "nobody", "--password-stdin"], "pw\n", 1, "Error: No user named 'nobody'"),
    (["users", "key", "nobody"], "", 1, "Error: No user named 'nobody'"),
    (["users", "keys", "nobody"], "", 1, "Error: No user named 'nobody'"),
    (["users", "key", "ed", "--revoke", "ra_zzzz"], "", 1, "Error: ed has no API key ra_zzzz..."),
    (["users", "key", "ed", "--revoke", "zz"], "", 1, "Error: Name the key by its first 7 characters"),
    (["users", "grant", "ed"], "", 1, "Error: Name the collections to grant."),
    (["users", "revoke", "ed", "--collections", "zzz"], "", 1, "Error: ed has no grant on zzz."),
    (["users", "role", "ed", "boss"], "", 2, "invalid choice: 'boss'"),
    (["users", "frob"], "", 2, "argument COMMAND: invalid choice: 'frob'"),
    (["audit", "--since", "2026-13-01"], "", 2, "argument --since: Bad date '2026-13-01'"),
    (["audit", "--log", "/nonexistent/audit.jsonl"], "", 1, "Error: No audit log at /nonexistent/audit.jsonl"),
])
def test_command_mistakes_have_clear_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str,
                                              rc: int, message: str) -> None:
    s = ["--store", str(tmp_path / "store")]
    run(["users", "add", "ed", "--role", "editor", "--collections", "main", "--password-stdin", *s], capsys,
        monkeypatch, "pw\n")
    got, out, err = run(argv + s, capsys, monkeypatch, stdin)
    assert (got, out) == (rc, "") and message in err, err
    if got == 1 and argv[0] == "users" and argv[1] != "keys":  # a refused change is audited too (not a listing)
        last = list(read_events(tmp_path / "store" / "audit.jsonl"))[-1]
        assert last.status == "refused" and last.action == "user-change"


def test_passwords_are_asked_twice_without_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    answers = iter(["one", "two", "same", "same"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    s = ["--store", str(tmp_path / "store")]
    assert run(["users", "add", "jo", "--role", "reader", *s], capsys, monkeypatch)[2] == \
        "Error: The passwords do not match.\n"
    assert run(["users", "add", "jo", "--role", "reader", *s], capsys, monkeypatch)[0] == 0
    with Accounts.open(Settings(store=tmp_path / "store")) as a:
        assert a.check_password("jo", "same") is not None


def test_the_cli_audit_to_standard_output_leaves_the_commands_output_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_AUDIT_LOG", "-")
    s = ["--store", str(tmp_path / "store")]
    run(["users", "add", "jo", "--role", "reader", "--password-stdin", *s], capsys, monkeypatch, "pw\n")
    rc, out, err = run(["users", "key", "jo", *s], capsys, monkeypatch)
    assert rc == 0 and out.startswith("ra_") and len(out.splitlines()) == 1
    assert json.loads(err.splitlines()[-1])["route"] == "users key"
    assert "Error: The audit log goes to standard output" in run(["audit", *s], capsys, monkeypatch)[2]

"""A team on one server: two readers whose collections each hold a secret never receive the other's
secret, titles, paths or counts on any read route; writes stay within write grants; wrong or
revoked credentials are refused at once. Run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.accounts import Accounts
from assistant.app.login import Throttle
from assistant.app.pool import Pool
from assistant.app.server import build_app, serve
from assistant.settings import Settings

# Each collection's secret: (file name, title, the sentence), and what must never reach the other.
SECRETS = {
    "alpha": ("orchid-memo.md", "Orchid bridge memo",
              "The Orchid bridge reopens on 4 May 2026 after the flood repairs, the harbour board said."),
    "beta": ("quartz-memo.md", "Quartz tunnel memo",
             "The Quartz tunnel closes on 9 June 2026 for the rail works, the transport office said."),
}
# What only the collection holds (the questions name both bridges, and answers echo the question).
MARKS = {"alpha": ("4 May 2026", "orchid-memo", "flood repairs", "Orchid bridge memo", "harbour board"),
         "beta": ("9 June 2026", "quartz-memo", "rail works", "Quartz tunnel memo", "transport office")}
QUESTIONS = ("When does the Orchid bridge reopen?", "When does the Quartz tunnel close?")
OTHER = {"ann": "beta", "bob": "alpha"}
OWN = {"ann": "alpha", "bob": "beta"}
PASSWORDS = {"ann": "ann's long pass", "bob": "bob's long pass", "ed": "ed's long pass", "root": "root's pass"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def leaks(text: str, collection: str) -> list[str]:
    return [m for m in MARKS[collection] if m.lower() in text.lower()]


@pytest.fixture(scope="module")
def team_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ingest import ingest

    root = tmp_path_factory.mktemp("team")
    for collection, (name, title, sentence) in SECRETS.items():
        folder = root / "docs" / collection
        folder.mkdir(parents=True)
        (folder / name).write_text(f"---\ntitle: {title}\ndate: 2026-03-01\n---\n\n# {title}\n\n{sentence}\n",
                                   encoding="utf-8")
        report = ingest([folder], Settings(store=root / "store"), collection=collection)
        assert report.ok, report.summary()
    return root / "store"


@dataclass
class Team:
    url: str
    settings: Settings
    accounts: Accounts
    keys: dict[str, str]
    audit: Path
    paths: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def team(request: pytest.FixtureRequest, team_store: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Team]:
    here = tmp_path_factory.mktemp(f"state-{request.param}")
    url = f"sqlite:///{here / 'state.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_server").new_database()
    settings = Settings(store=team_store, state_url=url, audit_log=str(here / "audit.jsonl"),
                        archive_dir=here / "archive")
    accounts = Accounts.open(settings)
    accounts.add("ann", "reader", PASSWORDS["ann"], read=["alpha"])
    accounts.add("bob", "reader", PASSWORDS["bob"], read=["beta"])
    accounts.add("ed", "editor", PASSWORDS["ed"], read=["alpha"], write=["alpha"])
    accounts.add("root", "admin", PASSWORDS["root"])
    keys = {name: accounts.new_key(name) for name in ("ann", "bob", "ed")}
    pool = Pool(settings)
    paths = {f.collection: f.path for f in pool.default.files()}
    # Wrong guesses are not slowed here: this module makes some on purpose (one test checks the throttle).
    with serve(build_app(pool, throttle=Throttle(free=10**9))) as served:
        yield Team(served.url, settings, accounts, keys, here / "audit.jsonl", paths)
    accounts.close()


def test_readers_see_only_their_collections_on_every_api_route(team: Team) -> None:
    with httpx.Client(base_url=team.url, timeout=120) as c:
        for user in ("ann", "bob"):
            for auth in (basic(user, PASSWORDS[user]), {"Authorization": f"Bearer {team.keys[user]}"}):
                seen: list[str] = []
                for question in QUESTIONS:
                    r = c.post("/api/ask", json={"question": question}, headers=auth)
                    assert r.status_code == 200, r.text
                    seen.append(r.text)
                    r = c.post("/api/search", json={"query": question}, headers=auth)
                    assert r.status_code == 200, r.text
                    seen.append(r.text)
                    for stream in (False, True):
                        r = c.post("/v1/chat/completions", headers=auth, json={
                            "model": "report-assistant", "stream": stream,
                            "messages": [{"role": "user", "content": question}]})
                        assert r.status_code == 200, r.text
                        seen.append(r.text)
                status = c.get("/api/status", headers=auth)
                files = c.get("/api/files", headers=auth)
                assert status.status_code == files.status_code == 200
                seen += [status.text, files.text]
                assert status.json()["documents"] == 1 and status.json()["files"] == 1
                assert [x["name"] for x in status.json()["collections"]] == [OWN[user]]
                assert [f["path"] for f in files.json()["files"]] == [team.paths[OWN[user]]]
                everything = "\n".join(seen)
                assert not leaks(everything, OTHER[user]), (user, leaks(everything, OTHER[user]))
                # Their own secret is answered: the limit is not "nothing at all".
                assert MARKS[OWN[user]][0] in everything
                own = c.get("/api/file", params={"path": team.paths[OWN[user]]}, headers=auth)
                other = c.get("/api/file", params={"path": team.paths[OTHER[user]]}, headers=auth)
                assert own.status_code == 200 and MARKS[OWN[user]][0] in own.text
                assert other.status_code == 404 and not leaks(other.text, OTHER[user])


def test_a_streamed_answer_is_audited_with_the_collections_it_cited(team: Team) -> None:
    """The event is written once the stream has ended, so it names what the answer cited (it was
    written before the first byte, with no collections)."""
    def events() -> list[dict[str, Any]]:
        text = team.audit.read_text(encoding="utf-8") if team.audit.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    before = len(events())
    with httpx.Client(base_url=team.url, timeout=120) as c:
        r = c.post("/v1/chat/completions", headers=basic("ann", PASSWORDS["ann"]), json={
            "model": "report-assistant", "stream": True, "messages": [{"role": "user", "content": QUESTIONS[0]}]})
        assert r.status_code == 200 and "data: [DONE]" in r.text and MARKS["alpha"][0] in r.text
    new = [e for e in events()[before:] if e["route"].endswith("/v1/chat/completions")]
    assert [(e["user"], e["action"], e["collections"], e["status"]) for e in new] == [("ann", "ask", ["alpha"], 200)]


def test_a_collection_filter_narrows_and_never_widens(team: Team) -> None:
    with httpx.Client(base_url=team.url, timeout=120) as c:
        auth = basic("ann", PASSWORDS["ann"])
        r = c.post("/api/search", json={"query": QUESTIONS[1], "collection": "beta"}, headers=auth)
        assert r.status_code == 200 and not leaks(r.text, "beta")
        r = c.post("/api/ask", json={"question": QUESTIONS[0], "collection": ["alpha", "beta"]}, headers=auth)
        assert r.status_code == 200 and "4 May 2026" in r.json()["answer"] and not leaks(r.text, "beta")
        admin = basic("root", PASSWORDS["root"])
        r = c.post("/api/search", json={"query": QUESTIONS[1], "collection": "alpha"}, headers=admin)
        assert r.status_code == 200 and not leaks(r.text, "beta")


def test_wrong_credentials_are_refused(team: Team) -> None:
    with httpx.Client(base_url=team.url, timeout=60) as c:
        for headers in (basic("ann", "wrong"), basic("nobody", PASSWORDS["ann"]), basic("ann", PASSWORDS["bob"]),
                        {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {team.keys['ann']}x"}, {}):
            for method, path in (("GET", "/api/status"), ("POST", "/api/ask"), ("GET", "/api/files"),
                                 ("POST", "/v1/chat/completions")):
                r = c.request(method, path, headers=headers, json={} if method == "POST" else None)
                assert r.status_code == 401, (headers, path, r.status_code)
        # A browser without a session is sent to the login page, which says nothing of the archive.
        page = c.get("/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        form = c.get(page.headers["location"])
        assert form.status_code == 200 and 'name="password"' in form.text and "Orchid" not in form.text


def login(c: httpx.Client, user: str, password: str) -> httpx.Response:
    return c.post("/login", data={"name": user, "password": password, "next": "/"}, follow_redirects=False)


def test_sessions_and_keys_of_a_removed_user_stop_at_once(team: Team) -> None:
    team.accounts.add("temp", "reader", "temp's pass", read=["alpha"])
    key = team.accounts.new_key("temp")
    with httpx.Client(base_url=team.url, timeout=60) as c:
        r = login(c, "temp", "temp's pass")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain HTTP here
        assert c.get("/api/status").json()["user"] == {"name": "temp", "role": "reader"}
        assert c.get("/", headers={"accept": "text/html"}).status_code == 200
        assert c.get("/api/status", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        team.accounts.remove("temp")
        assert c.get("/api/status").status_code == 401
        assert c.get("/", headers={"accept": "text/html"}).status_code == 303
        assert c.get("/api/status", headers={"Authorization": f"Bearer {key}"}).status_code == 401
        assert login(c, "temp", "temp's pass").status_code == 401


def test_logout_ends_the_session(team: Team) -> None:
    with httpx.Client(base_url=team.url, timeout=60) as c:
        assert login(c, "bob", PASSWORDS["bob"]).status_code == 303
        token = c.cookies.get("ra_session")
        assert c.get("/api/status").status_code == 200
        assert c.post("/logout", follow_redirects=False).status_code == 303
        c.cookies.set("ra_session", token or "")  # the old cookie, kept by a hostile client
        assert c.get("/api/status").status_code == 401


def test_a_login_form_only_redirects_within_this_server(team: Team) -> None:
    with httpx.Client(base_url=team.url, timeout=60) as c:
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
            r = c.post("/login", data={"name": "bob", "password": PASSWORDS["bob"], "next": target},
                       follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/", target


def test_no_password_key_or_hash_reaches_the_audit_log(team: Team) -> None:
    events = [json.loads(line) for line in team.audit.read_text(encoding="utf-8").splitlines()]
    assert {"login", "failed-login", "ask", "search", "file-read"} <= {e["action"] for e in events}
    assert all("question" not in e for e in events)  # audit_questions is off
    text = team.audit.read_text(encoding="utf-8")
    for secret in [*PASSWORDS.values(), *team.keys.values(), "$argon2"]:
        assert secret not in text


@contextmanager
def chat_as(team: Team, user: str, tmp: Path) -> Iterator[Any]:
    """The chat's own event routes, driven as the page drives them (gradio_client), as `user`."""
    from gradio_client import Client

    client = Client(team.url, headers=basic(user, PASSWORDS[user]), verbose=False, download_files=str(tmp))
    try:
        client.predict(api_name="/refresh")  # what the page does on load: its choices for this session
        yield client
    finally:
        client.close()


def test_chat_events_and_exports_keep_to_the_readers_collections(team: Team, tmp_path: Path) -> None:
    for user in ("ann", "bob"):
        with chat_as(team, user, tmp_path / user) as chat:
            shown: list[str] = [json.dumps(chat.predict(api_name="/refresh"), default=str)]
            for question in QUESTIONS:
                chat_log, panel, _, export = chat.predict(question, [], "", "", [], [], "extractive",
                                                          api_name="/respond")
                shown += [json.dumps(chat_log), panel, Path(export["value"]).read_text(encoding="utf-8")]
            everything = "\n".join(shown)
            assert not leaks(everything, OTHER[user]), (user, leaks(everything, OTHER[user]))
            assert MARKS[OWN[user]][0] in everything
            # Naming the other's collection in the chat's filter is refused (it is not among the
            # choices this session was given) or narrows to nothing; it never widens.
            from gradio_client.exceptions import AppError

            try:
                chat.predict([OTHER[user]], api_name="/choose_collections")
                chat_log, *_ = chat.predict(QUESTIONS[0 if user == "bob" else 1], [], "", "", [], [],
                                            "extractive", api_name="/respond")
            except AppError as e:
                assert "not in the list of choices" in str(e) and not leaks(str(e), OTHER[user])
            else:
                assert not leaks(json.dumps(chat_log), OTHER[user])


def stored(team: Team) -> dict[str, str]:
    """Every stored file's collection, by path, read from the store itself."""
    from assistant.index.store import Store
    from assistant.service import archive_files

    return {f.path: f.collection for f in archive_files(Store.open(team.settings), None)}


def refused_upload(chat: Any, note: Path, collection: str) -> None:
    """An upload refused: by our check, or by Gradio's (the collection was never offered to this session)."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    try:
        chat.predict(collection, api_name="/choose_collection")
        report, *_ = chat.predict([handle_file(str(note))], api_name="/upload")
    except AppError as e:
        assert "not in the list of choices" in str(e)
    else:
        assert "may not add" in report, report


def test_writes_stay_within_write_grants(team: Team, tmp_path: Path) -> None:
    from gradio_client import handle_file

    note = tmp_path / "ferry-note.md"
    note.write_text("# Ferry note\n\nThe Lumen ferry sails again on 2 July 2026.\n", encoding="utf-8")
    before = stored(team)
    with chat_as(team, "ann", tmp_path / "ann") as chat:  # a reader
        refused_upload(chat, note, "alpha")
        report, *_ = chat.predict([handle_file(str(note))], api_name="/upload")  # no collection chosen
        assert "may not add" in report, report
    with chat_as(team, "ed", tmp_path / "ed") as chat:  # an editor of alpha only
        refused_upload(chat, note, "beta")
        assert stored(team) == before
        chat.predict("alpha", api_name="/choose_collection")
        report, *_ = chat.predict([handle_file(str(note))], api_name="/upload")
        assert "1 of 1 file(s) in the archive" in report, report
    [(path, collection)] = stored(team).items() - before.items()
    assert collection == "alpha" and path.endswith("ferry-note.md")
    with httpx.Client(base_url=team.url, timeout=60) as c:
        assert "ferry-note" not in c.get("/api/files", headers=basic("bob", PASSWORDS["bob"])).text
        assert "ferry-note" in c.get("/api/files", headers=basic("ann", PASSWORDS["ann"])).text
    with chat_as(team, "ann", tmp_path / "ann2") as chat:  # a reader of alpha cannot remove from it
        try:
            report, *_ = chat.predict([path], api_name="/remove")
        except Exception as e:  # Gradio's own refusal: the file was never offered for removal
            assert "not in the list of choices" in str(e)
        else:
            assert "Nothing removed" in report
        assert path in stored(team)
    with chat_as(team, "ed", tmp_path / "ed2") as chat:
        report, *_ = chat.predict([path], api_name="/remove")
        assert "1 of 1 file(s) removed" in report, report
    assert stored(team) == before
    with httpx.Client(base_url=team.url, timeout=60) as c:  # the API has no write routes
        for route in ("/api/ingest", "/api/upload", "/api/remove"):
            assert c.post(route, headers=basic("ed", PASSWORDS["ed"]), json={}).status_code == 404


def test_wrong_logins_on_the_form_are_slowed(team_store: Path, tmp_path: Path) -> None:
    settings = Settings(store=team_store, state_url=f"sqlite:///{tmp_path / 'state.db'}",
                        audit_log=str(tmp_path / "audit.jsonl"))
    with Accounts.open(settings) as accounts:
        accounts.add("ann", "reader", PASSWORDS["ann"], read=["alpha"])
    with serve(build_app(Pool(settings))) as served, httpx.Client(base_url=served.url, timeout=60) as c:
        codes = [login(c, "ann", f"guess {i}").status_code for i in range(Throttle.FREE + 3)]
        assert codes[: Throttle.FREE] == [401] * Throttle.FREE and codes[-1] == 429
        assert login(c, "ann", PASSWORDS["ann"]).status_code == 429  # even the right one, while waiting
        assert "Too many wrong logins" in login(c, "ann", "again").text


def test_no_secret_reaches_any_log(team_store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                   capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(store=team_store, state_url=f"sqlite:///{tmp_path / 'state.db'}",
                        audit_log=str(tmp_path / "audit.jsonl"), audit_questions=True)
    password = "correct horse battery staple"
    with Accounts.open(settings) as accounts:
        accounts.add("ann", "reader", password, read=["alpha"])
        key = accounts.new_key("ann")
    with serve(build_app(Pool(settings), throttle=Throttle(free=10**9))) as served, \
            httpx.Client(base_url=served.url, timeout=60) as c:
        assert login(c, "ann", password).status_code == 303
        assert login(c, password, password).status_code == 401  # a password typed as the name
        for auth in (basic("ann", password), basic("ann", password + "x"), {"Authorization": f"Bearer {key}"},
                     {"Authorization": f"Bearer {key}x"}):
            c.get("/api/status", headers=auth)
            c.post("/api/ask", headers=auth, json={"question": QUESTIONS[0]})
    logged = caplog.text + "\n".join(capfd.readouterr()) + (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert "failed-login" in logged and QUESTIONS[0] in logged  # the log was written, questions included
    for secret in (password, key, key[3:20], "$argon2", key.split("_", 1)[-1]):
        assert secret not in logged, secret

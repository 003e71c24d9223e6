"""Holes a probe of the served chat found, each closed and kept closed, against a real
`assistant chat` process (its own Gradio upload folder) and through Gradio's real queue route:

A. an upload event naming a server file was ingested and then served;
B. an upload event naming /dev/zero or a FIFO froze every route;
C. /api/file followed a symbolic link swapped in for an ingested file;
E. a lone UTF-16 surrogate gave HTTP 500 and killed the chat's event stream;
F. any Host header was answered (DNS rebinding);
G/H. cross-site uploads, raw HTML in the export, no security headers, unknown routes in
Gradio's shape, and unlimited password guessing.
(D, unbounded ingestion, is tests/test_limits.py.)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.app.login import Throttle

SECRET = "The vault combination is nine four seven"


class Chat:
    """`assistant chat` in its own process, over a copy of the sample store."""

    def __init__(self, store: Path, tmp: Path, env: dict[str, str] | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.uploads = tmp / "gradio-uploads"
        self.archive = tmp / "archive"
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_UI_", "ASSISTANT_API_KEY"))}
        environ |= {"GRADIO_TEMP_DIR": str(self.uploads), "ASSISTANT_ARCHIVE_DIR": str(self.archive), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "chat", "--store", str(store),
                                      "--port", str(self.port)], env=environ,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/api/status", timeout=5).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, "the chat did not start"
            time.sleep(0.5)

    def stop(self) -> str:
        self.proc.kill()
        out, _ = self.proc.communicate(timeout=30)
        return out

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, **{"timeout": 30, **kw})

    def event(self, api_name: str, data: list[Any], session: str | None = None,
              raw: str | None = None) -> tuple[httpx.Response, list[dict[str, Any]]]:
        """Join Gradio's queue for the event named `api_name`, then read its messages to the end."""
        with self.client() as c:
            config = c.get("/config").json()
            dep = next(d for d in config["dependencies"] if d.get("api_name") == api_name)
            session = session or uuid.uuid4().hex
            body = {"data": data, "event_data": None, "fn_index": dep["id"], "trigger_id": None,
                    "session_hash": session}
            content = raw.replace("__DEP__", str(dep["id"])).replace("__SESSION__", session) if raw else \
                json.dumps(body)
            joined = c.post("/gradio_api/queue/join", content=content, headers={"content-type": "application/json"})
            if joined.status_code != 200:
                return joined, []
            messages: list[dict[str, Any]] = []
            with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=120) as s:
                for line in s.iter_lines():
                    if line.startswith("data: "):
                        messages.append(json.loads(line[6:]))
                        if messages[-1].get("msg") in ("process_completed", "close_stream"):
                            break
            return joined, messages

    def upload(self, path: Path, origin: str | None = None) -> httpx.Response:
        headers = {"origin": origin} if origin else {}
        with self.client() as c, path.open("rb") as f:
            return c.post("/gradio_api/upload", files={"files": (path.name, f)}, headers=headers)


@pytest.fixture(scope="module")
def chat(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chat]:
    tmp = tmp_path_factory.mktemp("security")
    store = tmp / "store"
    shutil.copytree(sample_store, store)
    served = Chat(store, tmp, {"ASSISTANT_ALLOWED_HOSTS": "archive.example.org"})
    try:
        yield served
    finally:
        served.stop()


def file_data(path: str | Path) -> dict[str, Any]:
    return {"path": str(path), "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def search(chat: Chat, query: str) -> list[dict[str, Any]]:
    with chat.client() as c:
        return c.post("/api/search", json={"query": query, "k": 5}).json()["results"]


# -- A: an event may name only files Gradio's upload route wrote ------------------------------

def test_an_upload_event_cannot_name_a_server_file(chat: Chat, tmp_path: Path) -> None:
    secret = tmp_path / "notes.md"
    secret.write_text(f"# Private notes\n\n{SECRET}.\n")
    joined, messages = chat.event("upload", [[file_data(secret)]])
    assert joined.status_code == 400, messages
    assert "not uploaded through the chat" in joined.json()["error"]["message"]
    # The same path tucked into the chat's own conversation input is refused too.
    joined, _ = chat.event("respond", ["hello", [{"role": "user", "content": [file_data(secret)]}], [], "", "",
                                       [], [], None])
    assert joined.status_code == 400
    assert not any(SECRET in r["text"] for r in search(chat, "vault combination nine four seven"))
    with chat.client() as c:
        assert not any(f["path"].endswith("notes.md") for f in c.get("/api/files").json()["files"])
    assert not (chat.archive / "notes.md").exists()


def test_a_real_upload_still_goes_through_the_queue(chat: Chat, tmp_path: Path) -> None:
    doc = tmp_path / "harbour-tariffs.md"
    doc.write_text("# Harbour tariffs\n\nThe Sennport harbour tariff for ferries rose by eleven percent in 2024.\n")
    uploaded = chat.upload(doc)
    assert uploaded.status_code == 200, uploaded.text
    joined, messages = chat.event("upload", [[file_data(uploaded.json()[0])]])
    assert joined.status_code == 200 and messages[-1]["success"], messages[-1]
    assert "added" in messages[-1]["output"]["data"][0]
    assert any("eleven percent" in r["text"] for r in search(chat, "Sennport harbour tariff ferries"))


# -- B: nothing an event names is read on the event loop ------------------------------------

@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_device_or_fifo_named_in_an_event_freezes_nothing(chat: Chat, tmp_path: Path, kind: str) -> None:
    target = "/dev/zero"
    if kind == "fifo":
        target = str(tmp_path / "pipe.md")
        os.mkfifo(target)
    started = time.monotonic()
    joined, _ = chat.event("upload", [[file_data(target)]])
    assert joined.status_code == 400
    with chat.client(timeout=5) as c:  # every route still answers at once
        assert c.get("/api/status").status_code == 200
        assert c.get("/").status_code == 200
    assert time.monotonic() - started < 10


# -- C: /api/file serves the ingested file itself, never what a link points at --------------

def test_api_file_does_not_follow_a_link_swapped_in(chat: Chat, tmp_path: Path) -> None:
    doc = tmp_path / "ferry-schedule.md"
    doc.write_text("# Ferry schedule\n\nThe Sennport ferry leaves at seven each morning from pier four.\n")
    joined, messages = chat.event("upload", [[file_data(chat.upload(doc).json()[0])]])
    assert messages[-1]["success"]
    stored = chat.archive / "ferry-schedule.md"
    with chat.client() as c:
        path = str(stored.resolve())
        assert c.get("/api/file", params={"path": path}).status_code == 200
        secret = tmp_path / "secret.txt"
        secret.write_text(SECRET)
        stored.unlink()
        stored.symlink_to(secret)
        r = c.get("/api/file", params={"path": path})
        assert r.status_code == 404 and SECRET not in r.text
        assert r.json()["error"]["code"] == 404
        stored.unlink()  # a FIFO in its place is refused at once, not waited on
        os.mkfifo(stored)
        r = c.get("/api/file", params={"path": path}, timeout=5)
        assert r.status_code == 404
        stored.unlink()
        folder = tmp_path / "elsewhere"  # a link on the way to the file
        folder.mkdir()
        (folder / "ferry-schedule.md").write_text(SECRET)
        shutil.move(str(chat.archive), str(tmp_path / "archive-moved"))
        chat.archive.symlink_to(folder)
        try:
            r = c.get("/api/file", params={"path": path})
            assert r.status_code == 404 and SECRET not in r.text
        finally:
            chat.archive.unlink()
            shutil.move(str(tmp_path / "archive-moved"), str(chat.archive))


# -- E: a lone surrogate is a clear 400 over HTTP, and harmless in the chat --------------------

RAW = [("/api/ask", '{"question": "why \\ud800 did it happen"}'),
       ("/api/ask", '{"question": "why", "history": [["\\ud800", "x"]]}'),
       ("/api/ask", '{"question": "why", "history": [{"role": "user", "content": "\\udfff"}]}'),
       ("/api/search", '{"query": "press \\ud800 freedom"}'),
       ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "why \\ud800"}]}'),
       ("/v1/chat/completions", '{"stream": true, "messages": [{"role": "user", "content": "why \\ud800"}]}')]


@pytest.mark.parametrize("route,body", RAW, ids=[f"{r}-{i}" for i, (r, _) in enumerate(RAW)])
def test_a_lone_surrogate_gets_a_clear_400(chat: Chat, route: str, body: str) -> None:
    with chat.client() as c:
        r = c.post(route, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert "lone UTF-16 surrogate" in r.json()["error"]["message"]
        assert c.get("/api/status").status_code == 200  # the connection and the server live on


def test_a_lone_surrogate_in_the_chat_does_not_kill_its_stream(chat: Chat) -> None:
    session = uuid.uuid4().hex
    raw = ('{"data": ["why \\ud800 did Marvala reject it", [], [{"role": "user", "content": [{"type": "text", "text": "\\udc00"}]}], "", "", '
           '[], [], null], "event_data": null, "fn_index": __DEP__, "trigger_id": null, '
           '"session_hash": "__SESSION__"}')
    joined, messages = chat.event("respond", [], session=session, raw=raw)
    assert joined.status_code == 200 and messages[-1]["msg"] == "process_completed"
    assert messages[-1]["success"], messages[-1]
    # The same session goes on answering.
    joined, messages = chat.event("respond", ["When did the UN Special Rapporteur visit Sennport?", [], [], "",
                                              "", [], [], None], session=session)
    assert messages[-1]["success"] and "2022" in json.dumps(messages[-1]["output"])


def test_the_python_api_refuses_a_lone_surrogate_clearly(sample_store: Path) -> None:
    from assistant import Assistant, QuestionError

    a = Assistant(store=sample_store)
    with pytest.raises(QuestionError, match="surrogate"):
        a.ask("why \ud800")
    assert a.ask("When did the UN Special Rapporteur visit Sennport?", history=[("\ud800", "x")]).text


# -- F: only the host names this server answers to -------------------------------------------

def test_other_host_names_are_refused(chat: Chat) -> None:
    with chat.client() as c:
        for host in ("evil.example", "evil.example:7860", f"attacker.test:{chat.port}", "localhost.evil.example"):
            for method, path in (("GET", "/api/status"), ("GET", "/"), ("GET", "/config"),
                                 ("POST", "/gradio_api/queue/join")):
                r = c.request(method, path, headers={"host": host})
                assert r.status_code == 400, (host, path)
                assert "host name" in r.json()["error"]["message"]
        for host in (f"127.0.0.1:{chat.port}", f"localhost:{chat.port}", "archive.example.org", "[::1]"):
            assert c.get("/api/status", headers={"host": host}).status_code == 200, host


# -- G: cross-site posts, the export, security headers ---------------------------------------

def test_cross_site_uploads_are_refused(chat: Chat, tmp_path: Path) -> None:
    doc = tmp_path / "cross.md"
    doc.write_text("# Cross\n\nA cross-site upload.\n")
    before = sorted(chat.uploads.rglob("cross.md")) if chat.uploads.exists() else []
    for origin in ("http://evil.example", "null", f"http://localhost:{chat.port + 1}"):
        r = chat.upload(doc, origin=origin)
        assert r.status_code == 403 and "Cross-site" in r.json()["error"]["message"]
    assert (sorted(chat.uploads.rglob("cross.md")) if chat.uploads.exists() else []) == before
    assert chat.upload(doc, origin=chat.url).status_code == 200  # the chat's own page
    with chat.client() as c:
        r = c.post("/api/ask", json={"question": "why"}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403


def test_every_response_carries_security_headers(chat: Chat) -> None:
    with chat.client() as c:
        for path in ("/", "/api/status", "/config", "/api/nope"):
            h = c.get(path).headers
            assert "frame-ancestors 'none'" in h["content-security-policy"], path
            assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", path


def test_the_markdown_export_escapes_documents_html() -> None:
    from assistant.app.ui_render import Turn, export_markdown
    from assistant.types import Answer, Citation

    cite = Citation(n=1, doc_id="d", path="/a/`b`.md", title="<b>Title</b>",
                    date=None, source=None, url=None, page=None,
                    text="Before <script>alert('x')</script> after.", supporting=["<script>s</script>"])
    answer = Answer(question="q", text="It said <script>alert(2)</script> [1]", citations=[cite], refused=False)
    out = export_markdown([Turn(question="<iframe src=x>", answer=answer)])
    for raw in ("<script", "<iframe", "<b>"):
        assert raw not in out
    assert "``/a/`b`.md``" in out  # a code span the path's own backticks cannot close
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in out


# -- H: unknown routes in the API's shape; guessing passwords is slowed ------------------------

def test_unknown_api_routes_answer_in_the_documented_shape(chat: Chat) -> None:
    with chat.client() as c:
        for method, path, status in (("GET", "/api/nope", 404), ("POST", "/v1/embeddings", 404),
                                     ("GET", "/api/ask", 405), ("DELETE", "/api/status", 405)):
            r = c.request(method, path)
            assert r.status_code == status, path
            assert set(r.json()["error"]) == {"message", "type", "code"} and r.json()["error"]["code"] == status


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_wrong_passwords_are_slowed_down(sample_store: Path, tmp_path: Path) -> None:
    served = Chat(sample_store, tmp_path, {"ASSISTANT_UI_USER": "staff", "ASSISTANT_UI_PASSWORD": "right one",
                                           "ASSISTANT_API_KEY": "key-1"})
    try:
        with served.client() as c:
            assert c.get("/api/status", headers=basic("staff", "right one")).status_code == 200
            codes = []
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                codes.append(c.get("/api/status", headers=basic("staff", f"guess{len(codes)}")).status_code)
            checked = codes.count(401)
            assert len(codes) > 50 and checked <= Throttle.FREE + 2, (len(codes), checked)
            assert set(codes) == {401, 429}
            locked = c.get("/api/status", headers=basic("staff", "right one"))
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
            assert locked.json()["error"]["code"] == 429
        # Another address is not locked out by this one's guesses (the key names no user).
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=served.url, transport=other, timeout=30) as c2:
            assert c2.get("/api/status", headers={"Authorization": "Bearer key-1"}).status_code == 200
    finally:
        log = served.stop()
    assert "right one" not in log and "guess1" not in log


def test_the_throttle_doubles_the_wait_and_forgets() -> None:
    now = [1000.0]
    t = Throttle(clock=lambda: now[0])
    keys = ["addr:1.2.3.4", "user:staff"]
    for _ in range(Throttle.FREE):
        assert t.wait(keys) == 0
        t.failed(keys)
    t.failed(keys)
    assert t.wait(keys) == 2.0 and t.wait(["addr:5.6.7.8"]) == 0
    now[0] += 2.0
    assert t.wait(keys) == 0
    t.failed(keys)
    assert t.wait(keys) == 4.0
    now[0] += Throttle.FORGET_S + 1
    assert t.wait(keys) == 0
    t.succeeded(keys)
    assert t.wait(keys) == 0

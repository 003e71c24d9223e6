"""The Model Context Protocol (issue 25), driven by the `mcp` SDK's own client: `assistant mcp` over
stdio in a subprocess (the local user), and /mcp on a real chat server with users' API keys. Tools
are listed and called; answers cite; a user never gets anything from a collection they may not
read, and naming one gets the same tool error as naming one that does not exist."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from assistant.settings import Settings

from conftest import ROOT, SAMPLE
from pdfgen import write_pdf

SHOWCASE = "Why did Marvala reject the 2023 OHCHR report?"
LEDGER = "Which ledger code is kept in the archive vault?"
VAULT_PAGE = "The vault review found that the KESTREL-4471 ledger was moved to Port Anselm in March 2025."
# What only the vault collection holds: none of it may reach a user who cannot read it.
MARKS = ("KESTREL-4471", "Port Anselm", "Kestrel vault memo", "vault-memo", "kestrel-report", "Kestrel annual report")
TOOLS = {"search_archive", "ask_archive", "read_document", "archive_status"}


def leaks(text: str) -> list[str]:
    return [m for m in MARKS if m.lower() in text.lower()]


@pytest.fixture(scope="module")
def mcp_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive in `main`, and a `vault` collection: a memo and a three-page PDF."""
    from ingest import ingest

    root = tmp_path_factory.mktemp("mcp")
    vault = root / "docs" / "vault"
    vault.mkdir(parents=True)
    (vault / "vault-memo.md").write_text(
        "---\ntitle: Kestrel vault memo\ndate: 2025-02-01\nsource: Kestrel Records Office\n---\n\n"
        "The archive vault keeps the ledger code KESTREL-4471 in the basement at Port Anselm.\n", encoding="utf-8")
    write_pdf(vault / "kestrel-report.pdf", [
        "Kestrel annual report. This report introduces the vault review of 2025 and its methods.",
        VAULT_PAGE + " The move was recorded by the records office.",
        "Conclusions. The records office will review the vault again in 2027."], title="Kestrel annual report")
    settings = Settings(store=root / "store")
    for folder, collection in ((SAMPLE, "main"), (vault, "vault")):
        report = ingest([folder], settings, collection=collection)
        assert report.ok, report.summary()
    return root / "store"


def result(r: Any) -> tuple[bool, Any, str]:
    """(isError, the structured content, the text) of a CallToolResult."""
    text = "\n".join(getattr(c, "text", "") for c in r.content)
    return bool(r.is_error), r.structured_content, text


def check_cited(reply: dict[str, Any]) -> None:
    """Each [n] of the answer is a citation given, and each citation backs it with its own text."""
    assert not reply["refused"] and reply["citations"], reply
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", reply["answer"])}
    assert marks and marks <= {c["n"] for c in reply["citations"]}, (marks, reply["citations"])
    for c in reply["citations"]:
        assert c["title"] and c["path"] and c["text"]
        assert all(s in c["text"] for s in c["supporting"]), c


# -- no store needed ------------------------------------------------------------------------

def test_a_documents_text_is_put_back_together_and_windowed() -> None:
    from assistant.errors import QuestionError
    from assistant.integrations.documents import find, merged, window

    # Chunks carry whole sentences of the one before (a heading too): each kept once.
    assert merged(["One two. ## 2024", "## 2024\n\n- Three four.", "Five six."]) == \
        "One two. ## 2024\n\n- Three four. Five six."
    assert merged(["The end.", "The end of it."]) == "The end. The end of it."  # no overlap: two chunks
    text = "Alpha beta gamma. Delta epsilon zeta eta. Theta iota kappa lambda mu. " * 3
    w = window(text, 60, "Delta   epsilon zeta\neta.")
    assert "Delta epsilon zeta eta." in w.text and len(w.text) <= 60 and w.length == len(text)
    assert text[w.start:w.end] == w.text
    assert window(text, 30).start == 0
    assert find(text, "Nothing like this sentence is there.") is None
    with pytest.raises(QuestionError, match="not in that document"):
        window(text, 60, "Nothing like this sentence is there.")


def test_only_the_mcp_binding_imports_the_sdk() -> None:
    """`mcp` is imported by assistant/integrations/mcp_server.py alone, and that only by the
    `assistant mcp` command and the server's /mcp mount, inside the functions that use them (imports
    for type checking alone never run)."""
    importers: dict[str, list[tuple[str, bool]]] = {}
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        inner = {id(x) for f in functions for x in ast.walk(f)}
        typing = {id(x) for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
                  for x in ast.walk(n)}
        for node in (n for n in ast.walk(tree) if id(n) not in typing):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name == "mcp" or name.startswith("mcp.") or name == "assistant.integrations.mcp_server":
                    importers.setdefault(name.split(".")[0] if name.startswith("mcp") else name, []).append(
                        (path.relative_to(ROOT).as_posix(), id(node) in inner))
    assert {p for p, _ in importers["mcp"]} == {"assistant/integrations/mcp_server.py"}
    assert sorted(importers["assistant.integrations.mcp_server"]) == [
        ("assistant/app/cli.py", True), ("assistant/app/server.py", True)]


@pytest.mark.slow  # a fresh interpreter
def test_the_server_and_the_cli_load_without_the_sdk() -> None:
    code = ("import sys, assistant.app.server, assistant.app.cli, assistant.integrations.mcp_tools; "
            "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- over stdio: `assistant mcp` as a desktop client starts it --------------------------------

@asynccontextmanager
async def stdio_session(store: Path) -> AsyncIterator[Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "assistant", "mcp", "--store", str(store)],
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def test_stdio_lists_the_tools_and_answers_with_citations(mcp_store: Path) -> None:
    async def scenario() -> None:
        async with stdio_session(mcp_store) as s:
            listed = {t.name: t for t in (await s.list_tools()).tools}
            assert set(listed) == TOOLS
            for t in listed.values():
                assert len(t.description or "") > 80 and t.output_schema, t.name
            ask = listed["ask_archive"].input_schema
            assert ask["required"] == ["question"]
            assert {"question", "history", "since", "until", "source", "collection"} <= set(ask["properties"])
            assert listed["search_archive"].input_schema["properties"]["k"]["maximum"] == 50

            error, reply, text = result(await s.call_tool("ask_archive", {"question": SHOWCASE}))
            assert not error and "rejects the OHCHR report" in reply["answer"]
            check_cited(reply)
            assert json.loads(text) == reply  # the text content is the same object, for clients without schemas
            cited = reply["citations"][0]
            assert cited["date"] == "2023-08-16" and cited["path"].endswith("2023-08-16-mfa-statement-ohchr-report.md")

            # A follow-up rewritten from the history.
            error, follow, _ = result(await s.call_tool("ask_archive", {
                "question": "Who criticised that decision?",
                "history": [{"role": "user", "content": SHOWCASE}, {"role": "assistant", "content": reply["answer"]}]}))
            assert not error and follow["standalone_question"]

            error, found, _ = result(await s.call_tool("search_archive", {
                "query": "press freedom barometer", "k": 3, "since": "2024", "until": "2024-12"}))
            assert not error and 1 <= len(found["passages"]) <= 3
            assert all("2024" <= p["date"] <= "2024-12-31" for p in found["passages"])
            assert [p["rank"] for p in found["passages"]] == list(range(1, len(found["passages"]) + 1))

            # Around a cited sentence: the document's text, with the sentence in it.
            sentence = cited["supporting"][0]
            error, doc, _ = result(await s.call_tool("read_document", {"path": cited["path"], "around": sentence,
                                                                       "chars": 600}))
            assert not error and sentence in doc["text"] and len(doc["text"]) <= 600
            assert doc["title"] == cited["title"] and doc["length"] > len(doc["text"])

            # The local user reads every collection, the PDF's pages included.
            error, status, _ = result(await s.call_tool("archive_status", {}))
            assert not error and status["user"] == "local"
            assert [c["name"] for c in status["collections"]] == ["main", "vault"]
            assert status["embed_model"] and status["store"] == str(mcp_store) and status["chunks"] > 40

            # Mistakes are tool errors with a message, and the session goes on.
            for args, message in (({"since": "2023-13"}, "Cannot read the date '2023-13'"),
                                  ({"since": "2024", "until": "2023"}, "is after the end date"),
                                  ({"collection": "nowhere"}, "No collection named 'nowhere'"),
                                  ({"k": 0}, "greater than or equal to 1")):
                error, _, text = result(await s.call_tool("search_archive", {"query": "press freedom", **args}))
                assert error and message in text, text
            error, _, text = result(await s.call_tool("read_document", {"path": "/etc/passwd"}))
            assert error and "holds no document at '/etc/passwd'" in text
            assert set(t.name for t in (await s.list_tools()).tools) == TOOLS

    anyio.run(scenario)


# -- over HTTP: /mcp on the chat server, a user's key, their collections ----------------------

@dataclass
class Served:
    url: str
    keys: dict[str, str]
    audit: Path
    paths: dict[str, str]


@pytest.fixture(scope="module")
def mcp_http(mcp_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The chat server over the store, with `reader` (main only) and `keeper` (main and vault)."""
    from assistant.accounts import Accounts
    from assistant.app.login import Throttle
    from assistant.app.pool import Pool
    from assistant.app.server import build_app, serve

    here = tmp_path_factory.mktemp("mcp-state")
    settings = Settings(store=mcp_store, state_url=f"sqlite:///{here / 'state.db'}",
                        audit_log=str(here / "audit.jsonl"), archive_dir=here / "archive")
    accounts = Accounts.open(settings)
    accounts.add("reader", "reader", "reader's long pass", read=["main"])
    accounts.add("keeper", "reader", "keeper's long pass", read=["main", "vault"])
    keys = {name: accounts.new_key(name) for name in ("reader", "keeper")}
    pool = Pool(settings)
    paths = {Path(f.path).name: f.path for f in pool.default.files()}
    with serve(build_app(pool, throttle=Throttle(free=10**9))) as served:
        yield Served(served.url, keys, here / "audit.jsonl", paths)
    accounts.close()


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[Any]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120) as client, \
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


def run_as(served: Served, user: str, scenario: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        async with http_session(served.url, served.keys[user]) as s:
            await scenario(s)

    anyio.run(main)


def test_http_serves_the_tools_to_a_users_key(mcp_http: Served) -> None:
    async def scenario(s: Any) -> None:
        assert {t.name for t in (await s.list_tools()).tools} == TOOLS
        error, reply, _ = result(await s.call_tool("ask_archive", {"question": SHOWCASE}))
        assert not error and "rejects the OHCHR report" in reply["answer"]
        check_cited(reply)
        error, found, _ = result(await s.call_tool("search_archive", {"query": "press freedom barometer", "k": 2}))
        assert not error and len(found["passages"]) == 2
        assert all(p["title"] and p["path"] and p["text"] and p["collection"] == "main" for p in found["passages"])
        error, status, _ = result(await s.call_tool("archive_status", {}))
        assert not error and (status["user"], status["role"]) == ("reader", "reader")
        assert [c["name"] for c in status["collections"]] == ["main"]
        error, _, text = result(await s.call_tool("ask_archive", {"question": SHOWCASE, "until": "2023-02-30"}))
        assert error and "Cannot read the date '2023-02-30'" in text

    run_as(mcp_http, "reader", scenario)
    events = [json.loads(line) for line in mcp_http.audit.read_text().splitlines()]
    mine = [e for e in events if e["route"] == "/mcp" and e["user"] == "reader"]
    assert {"ask", "search"} <= {e["action"] for e in mine}
    assert any(e["action"] == "ask" and e["collections"] == ["main"] and e["status"] == 200 for e in mine)


def test_a_user_gets_nothing_from_a_collection_they_may_not_read(mcp_http: Served) -> None:
    memo, pdf = mcp_http.paths["vault-memo.md"], mcp_http.paths["kestrel-report.pdf"]
    seen: list[str] = []

    async def reader(s: Any) -> None:
        for name, args in (("search_archive", {"query": LEDGER, "k": 50}), ("ask_archive", {"question": LEDGER}),
                           ("archive_status", {})):
            error, _, text = result(await s.call_tool(name, args))
            assert not error, text
            seen.append(text)
        # Naming the collection, or reading its files: the answers given for what does not exist.
        _, _, vault = result(await s.call_tool("search_archive", {"query": LEDGER, "collection": "vault"}))
        _, _, nowhere = result(await s.call_tool("search_archive", {"query": LEDGER, "collection": "nowhere"}))
        assert "No collection named 'vault'" in vault and "Your collections: main." in vault
        assert vault.replace("'vault'", "X") == nowhere.replace("'nowhere'", "X")
        error, _, asked = result(await s.call_tool("ask_archive", {"question": LEDGER, "collection": ["main", "vault"]}))
        assert error and asked.endswith(vault.partition(": ")[2])
        missing = "/nowhere/kestrel-report.pdf"
        error, _, absent = result(await s.call_tool("read_document", {"path": missing}))
        assert error and "holds no document at" in absent
        for path, args in ((memo, {}), (pdf, {"page": 2}), (pdf, {"around": VAULT_PAGE})):
            error, _, text = result(await s.call_tool("read_document", {"path": path, **args}))
            assert error and text.replace(path, "X") == absent.replace(missing, "X"), text
        seen.append(vault + asked)

    run_as(mcp_http, "reader", reader)
    assert not leaks("\n".join(seen)), leaks("\n".join(seen))

    async def keeper(s: Any) -> None:  # who may read the vault gets it: the limit is not "nothing at all"
        error, found, _ = result(await s.call_tool("search_archive", {"query": LEDGER, "collection": "vault"}))
        assert not error and found["passages"] and {p["collection"] for p in found["passages"]} == {"vault"}
        assert "KESTREL-4471" in found["passages"][0]["text"]
        error, reply, _ = result(await s.call_tool("ask_archive", {"question": LEDGER}))
        assert not error and "KESTREL-4471" in reply["answer"]
        check_cited(reply)
        error, page, _ = result(await s.call_tool("read_document", {"path": pdf, "page": 2}))
        assert not error and VAULT_PAGE[:60] in page["text"] and (page["page"], page["pages"]) == (2, [1, 2, 3])
        assert "Conclusions" not in page["text"] and page["title"] == "Kestrel annual report"
        error, _, text = result(await s.call_tool("read_document", {"path": pdf, "page": 9}))
        assert error and "Page 9" in text and "pages with text: 1-3" in text

    run_as(mcp_http, "keeper", keeper)
    events = [json.loads(line) for line in mcp_http.audit.read_text().splitlines()]
    assert not any("vault" in e["collections"] for e in events if e["user"] == "reader")
    assert any(e["action"] == "file-read" and e["status"] == 404 for e in events if e["user"] == "reader")


def test_http_without_a_valid_key_is_refused_as_the_api_is(mcp_http: Served) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}
    accept = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=mcp_http.url, timeout=60) as c:
        api = c.get("/api/status")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {mcp_http.keys['reader']}x"}):
            r = c.post("/mcp", json=initialize, headers={**accept, **headers})
            assert r.status_code == 401 == api.status_code, r.text
            assert r.headers["www-authenticate"] == api.headers["www-authenticate"]
            assert r.json()["error"]["code"] == 401 and "KESTREL" not in r.text
        # A browser is not sent to the login page: /mcp is an API.
        assert c.get("/mcp", headers={"accept": "text/html"}).status_code == 401
        ok = c.post("/mcp", json=initialize, headers={**accept, "Authorization": f"Bearer {mcp_http.keys['reader']}"})
        assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "report-archive"

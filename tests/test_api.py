"""The HTTP API over real HTTP, against the served app: /api routes, the OpenAI-compatible /v1
routes through the official `openai` client, clear 4xx errors, and concurrent requests."""

import json
import threading
from pathlib import Path

import httpx
import pytest

from assistant import Assistant
from assistant.types import search_results

SHOWCASE = "Why did Marvala reject the 2023 OHCHR report?"
VISIT = "When did the UN Special Rapporteur visit Sennport?"


@pytest.fixture(scope="module")
def http(chat_server):
    with httpx.Client(base_url=chat_server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def local(sample_store: Path) -> Assistant:
    return Assistant(store=sample_store)


def without_ids(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("conversation", "answer_id")}


def test_ask_returns_what_the_cli_prints(http, local) -> None:
    r = http.post("/api/ask", json={"question": SHOWCASE})
    assert r.status_code == 200
    data = r.json()
    # The object `assistant ask --json` prints, and the ids of the saved conversation and answer.
    assert {k: v for k, v in data.items() if k not in ("conversation", "answer_id")} == local.ask(SHOWCASE).to_dict()
    assert len(data["conversation"]) == len(data["answer_id"]) == 32
    assert "rejects the OHCHR report" in data["answer"] and data["citations"][0]["supporting"]


def test_ask_follows_the_conversation_and_filters(http, local) -> None:
    history = [{"role": "user", "content": SHOWCASE}, {"role": "assistant", "content": "It rejected it. [1]"}]
    r = http.post("/api/ask", json={"question": "Who criticised that decision?", "history": history})
    assert r.status_code == 200 and r.json()["standalone_question"]
    assert without_ids(r.json()) == local.ask("Who criticised that decision?", history=history).to_dict()
    pairs = http.post("/api/ask", json={"question": "Who criticised that decision?",
                                        "history": [[SHOWCASE, "It rejected it. [1]"]]})
    assert without_ids(pairs.json()) == without_ids(r.json())
    dated = http.post("/api/ask", json={"question": "press freedom", "since": "2024"}).json()
    assert dated["citations"] and all(c["date"] >= "2024" for c in dated["citations"])
    only = http.post("/api/ask", json={"question": SHOWCASE, "source": ["Sennport Daily Ledger"]}).json()
    assert {c["source"] for c in only["citations"]} == {"Sennport Daily Ledger"}


def test_search_returns_what_the_cli_prints(http, local) -> None:
    r = http.post("/api/search", json={"query": "press freedom barometer", "k": 3})
    assert r.status_code == 200
    assert r.json() == search_results(local.search("press freedom barometer", k=3))
    assert [x["rank"] for x in r.json()["results"]] == [1, 2, 3]


def test_files_lists_what_the_store_holds(http, local) -> None:
    r = http.get("/api/files")
    assert r.status_code == 200 and r.json() == {"files": [f.to_dict() for f in local.files()]}
    assert len(r.json()["files"]) == http.get("/api/status").json()["files"] == 12


def test_status_lists_the_archive_backends_and_facets(http) -> None:
    s = http.get("/api/status").json()
    assert s["documents"] == 16 and s["chunks"] > 0 and s["backends"] == ["extractive"]
    assert "Sennport Daily Ledger" in s["sources"] and "pdf" not in s["kinds"] and "md" in s["kinds"]


@pytest.mark.parametrize("path, body, status, message", [
    ("/api/ask", "{not json", 400, "not valid JSON"),
    ("/api/ask", "[1, 2]", 422, "valid dictionary"),
    ("/api/ask", "{}", 422, "question: Field required"),
    ("/api/ask", '{"question": "x", "sources": ["a"]}', 422, "sources: Extra inputs are not permitted"),
    ("/api/ask", '{"question": 7}', 422, "question: Input should be a valid string"),
    ("/api/ask", '{"question": "   "}', 400, "The question is empty."),
    ("/api/ask", json.dumps({"question": "a\u0007b"}), 400, "control characters"),
    ("/api/ask", json.dumps({"question": "x" * 100_000}), 400, "the limit is 2,000"),
    ("/api/ask", '{"question": "x", "since": "last week"}', 400, "Cannot read the date"),
    ("/api/ask", '{"question": "x", "llm": "gpt-9"}', 400, "not offered here"),
    ("/api/search", '{"query": "x", "k": 0}', 422, "k: Input should be greater than or equal to 1"),
    ("/v1/chat/completions", '{"messages": []}', 422, "messages: List should have at least 1 item"),
    ("/v1/chat/completions", '{"messages": [{"role": "assistant", "content": "hi"}]}', 400, "last message"),
    ("/v1/chat/completions", '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}', 404,
     "does not exist"),
    ("/api/ask", '{"question": "' + "x" * (1 << 21) + '"}', 413, "over 1024 KB"),
])
def test_bad_requests_get_clear_json_errors(http, path: str, body: str, status: int, message: str) -> None:
    r = http.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert message in error["message"] and error["code"] == status


def test_openai_client_non_streaming_and_streaming(chat_server, local) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=chat_server.url + "/v1", api_key="not-needed", max_retries=0)
    assert [m.id for m in client.models.list()] == ["report-assistant", "extractive"]
    expected = local.ask(VISIT)
    done = client.chat.completions.create(model="report-assistant",
                                          messages=[{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": VISIT}])
    assert done.choices[0].message.content == expected.text and done.choices[0].finish_reason == "stop"
    extra = done.model_extra or {}
    assert extra["citations"] == [c.to_dict() for c in expected.citations]
    assert extra["answer"]["grounded"] is True and extra["answer"]["backend"] == "extractive"
    assert done.usage is not None and done.usage.completion_tokens > 0

    chunks = list(client.chat.completions.create(model="extractive", stream=True,
                                                 messages=[{"role": "user", "content": VISIT}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == expected.text and len(chunks) > 3  # streamed in pieces
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c["n"] for c in (last.model_extra or {})["citations"]] == [c.n for c in expected.citations]

    follow = client.chat.completions.create(model="report-assistant", messages=[
        {"role": "user", "content": SHOWCASE}, {"role": "assistant", "content": "It rejected it. [1]"},
        {"role": "user", "content": [{"type": "text", "text": "Who criticised that decision?"}]}])
    assert (follow.model_extra or {})["answer"]["standalone_question"].startswith("Who criticised that decision?")


def test_concurrent_requests_are_answered_independently(chat_server, local) -> None:
    questions = [SHOWCASE, VISIT, "Who chairs the Inter-Ministerial Task Force on Detention Reform?",
                 "What did the press freedom barometer say?"] * 2
    expected = {q: local.ask(q).to_dict() for q in set(questions)}
    results: dict[int, dict] = {}
    start = threading.Barrier(len(questions))

    def ask(i: int, q: str) -> None:
        with httpx.Client(base_url=chat_server.url, timeout=120) as c:
            start.wait()
            if i % 2:  # half through /api/ask, half through the OpenAI route, streaming
                results[i] = c.post("/api/ask", json={"question": q}).json()
            else:
                body = {"messages": [{"role": "user", "content": q}], "stream": True}
                with c.stream("POST", "/v1/chat/completions", json=body) as r:
                    events = [json.loads(line[6:]) for line in r.iter_lines()
                              if line.startswith("data: {")]
                text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
                results[i] = {"answer": text, "citations": events[-1]["citations"]}

    threads = [threading.Thread(target=ask, args=(i, q)) for i, q in enumerate(questions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(results) == len(questions)
    for i, q in enumerate(questions):
        assert results[i]["answer"] == expected[q]["answer"], q
        assert results[i]["citations"] == expected[q]["citations"], q


def test_files_are_served_only_from_the_archive_and_never_as_html(http, local) -> None:
    html_doc = next(c for c in local.ask("press freedom barometer spokesperson").citations
                    if c.path.endswith(".html"))
    r = http.get("/api/file", params={"path": html_doc.path})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"
    assert "<html" in r.text.lower() or "<p" in r.text.lower()
    for path in ("/etc/passwd", html_doc.path + "/../../../../etc/passwd", str(Path(html_doc.path).parent)):
        assert http.get("/api/file", params={"path": path}).status_code == 404

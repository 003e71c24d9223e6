"""Conversations and feedback over the HTTP API: saved as asked, continued by id, listed, read,
renamed, deleted, rated; and another user's conversation answers 404 on every route, exactly like
one that does not exist, so ids are never confirmed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.accounts import Accounts
from assistant.app.login import Throttle
from assistant.app.pool import Pool
from assistant.app.server import build_app, serve
from assistant.settings import Settings

SHOWCASE = "Why did Marvala reject the 2023 OHCHR report?"
FOLLOW_UP = "Who criticised that decision?"


def basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{user}'s password".encode()).decode()}


@pytest.fixture(scope="module")
def server(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    here = tmp_path_factory.mktemp("conversations")
    settings = Settings(store=sample_store, state_url=f"sqlite:///{here / 'state.db'}",
                        audit_log=str(here / "audit.jsonl"))
    with Accounts.open(settings) as accounts:
        for user in ("ann", "bob"):
            accounts.add(user, "reader", f"{user}'s password", read=["main"])
    with serve(build_app(Pool(settings), throttle=Throttle(free=10**9))) as served:
        yield served.url


def test_a_conversation_is_saved_continued_listed_renamed_and_deleted(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120, headers=basic("ann")) as c:
        first = c.post("/api/ask", json={"question": SHOWCASE}).json()
        conv = first["conversation"]
        # Continued by id alone: the saved turns are the history (the follow-up is rewritten from them).
        second = c.post("/api/ask", json={"question": FOLLOW_UP, "conversation": conv}).json()
        assert second["conversation"] == conv and second["answer_id"] != first["answer_id"]
        assert second["standalone_question"] != FOLLOW_UP
        listed = c.get("/api/conversations").json()["conversations"]
        assert [(x["id"], x["title"], x["turns"]) for x in listed] == [(conv, SHOWCASE, 2)]
        whole = c.get(f"/api/conversations/{conv}").json()
        assert [t["question"] for t in whole["turns"]] == [SHOWCASE, FOLLOW_UP]
        saved = [{k: v for k, v in c.items() if k != "collection"} for c in whole["turns"][0]["answer"]["citations"]]
        assert saved == first["citations"]  # as shown, passages included (and each one's collection)
        assert c.post(f"/api/conversations/{conv}", json={"title": "OHCHR report"}).json()["title"] == "OHCHR report"
        assert [x["id"] for x in c.get("/api/conversations", params={"search": "ohchr"}).json()["conversations"]] \
            == [conv]
        # The OpenAI-compatible route continues it too, and says which ids it saved.
        done = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "And when?"}],
                                                     "conversation": conv}).json()
        assert done["conversation"] == conv and done["answer_id"]
        streamed = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": SHOWCASE}],
                                                         "stream": True}).text
        assert '"conversation": "' in streamed and '"answer_id": "' in streamed
        assert c.get(f"/api/conversations/{conv}").json()["turns"][-1]["question"] == "And when?"
        assert c.delete(f"/api/conversations/{conv}").json() == {"deleted": conv}
        assert c.get(f"/api/conversations/{conv}").status_code == 404
        assert c.delete("/api/conversations").json()["deleted"] == 1  # the streamed one
        assert c.get("/api/conversations").json()["conversations"] == []


def test_feedback_is_kept_with_its_answer(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120, headers=basic("ann")) as c:
        asked = c.post("/api/ask", json={"question": SHOWCASE}).json()
        r = c.post("/api/feedback", json={"answer": asked["answer_id"], "rating": "down", "comment": "missed the date"})
        assert r.status_code == 200 and r.json()["rating"] == "down"
        turn = c.get(f"/api/conversations/{asked['conversation']}").json()["turns"][0]
        assert (turn["rating"], turn["comment"]) == ("down", "missed the date")
        assert c.post("/api/feedback", json={"answer": asked["answer_id"], "rating": "meh"}).status_code == 422
        assert c.post("/api/feedback", json={"answer": "0" * 32, "rating": "up"}).status_code == 404


def test_another_users_conversation_is_not_found_on_any_route(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120, headers=basic("ann")) as ann:
        mine = ann.post("/api/ask", json={"question": SHOWCASE}).json()
    conv, answer = mine["conversation"], mine["answer_id"]
    with httpx.Client(base_url=server, timeout=120, headers=basic("bob")) as bob:
        for target in (conv, "f" * 32):  # Ann's, and one that does not exist: the same answers
            replies = [
                bob.get(f"/api/conversations/{target}"),
                bob.post(f"/api/conversations/{target}", json={"title": "mine"}),
                bob.delete(f"/api/conversations/{target}"),
                bob.post(f"/api/conversations/{target}/share"),
                bob.delete(f"/api/conversations/{target}/share"),
                bob.post("/api/ask", json={"question": FOLLOW_UP, "conversation": target}),
                bob.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": FOLLOW_UP}],
                                                       "conversation": target, "stream": True}),
            ]
            assert [r.status_code for r in replies] == [404] * 7, [r.text for r in replies]
            assert {r.json()["error"]["message"] for r in replies} == {"No such conversation."}
        rated = [bob.post("/api/feedback", json={"answer": a, "rating": "down"}) for a in (answer, "f" * 32)]
        assert [r.status_code for r in rated] == [404, 404] and rated[0].json() == rated[1].json()
        assert bob.get("/api/conversations").json()["conversations"] == []
    with httpx.Client(base_url=server, timeout=120, headers=basic("ann")) as ann:
        whole = ann.get(f"/api/conversations/{conv}").json()
        assert whole["title"] == SHOWCASE and len(whole["turns"]) == 1 and whole["turns"][0]["rating"] is None


def test_the_chats_turns_are_saved_as_they_happen(server: str, tmp_path: Path) -> None:
    from gradio_client import Client

    chat = Client(server, headers=basic("bob"), verbose=False, download_files=str(tmp_path))
    try:
        chat.predict(api_name="/refresh")
        chat.predict(SHOWCASE, [], "", "", [], [], "extractive", api_name="/respond")
        chat.predict(FOLLOW_UP, [], "", "", [], [], "extractive", api_name="/respond")
        chat.predict(api_name="/forget")  # New conversation
        chat.predict("When did the UN Special Rapporteur visit Sennport?", [], "", "", [], [], "extractive",
                     api_name="/respond")
    finally:
        chat.close()
    with httpx.Client(base_url=server, timeout=60, headers=basic("bob")) as c:
        listed = c.get("/api/conversations").json()["conversations"]
        assert [x["turns"] for x in listed] == [1, 2]  # latest first
        whole = c.get(f"/api/conversations/{listed[1]['id']}").json()
        assert [t["question"] for t in whole["turns"]] == [SHOWCASE, FOLLOW_UP]
        assert "rejects" in whole["turns"][0]["answer"]["answer"] and whole["turns"][0]["answer"]["citations"]
    with httpx.Client(base_url=server, timeout=60, headers=basic("ann")) as c:
        assert all(x["title"] != "When did the UN Special Rapporteur visit Sennport?"
                   for x in c.get("/api/conversations").json()["conversations"])


def test_a_shared_conversation_is_read_only_for_colleagues_until_sharing_stops(server: str) -> None:
    hostile = "Why did Marvala reject the report? <img src=x onerror=alert(1)>"
    with httpx.Client(base_url=server, timeout=120, headers=basic("ann")) as ann:
        asked = ann.post("/api/ask", json={"question": hostile}).json()
        conv = asked["conversation"]
        shared = ann.post(f"/api/conversations/{conv}/share").json()
        assert shared["link"] == f"/shared/{shared['share']}" and len(shared["share"]) >= 32
        assert ann.post(f"/api/conversations/{conv}/share").json()["share"] == shared["share"]  # one link
        assert ann.get(f"/api/conversations/{conv}").json()["share"] == shared["share"]
    with httpx.Client(base_url=server, timeout=60, headers=basic("bob")) as bob:
        seen = bob.get(f"/api/shared/{shared['share']}").json()
        assert seen["withheld"] == 0 and [t["question"] for t in seen["turns"]] == [hostile]
        assert seen["turns"][0]["answer"]["answer"] == asked["answer"]
        page = bob.get(shared["link"], headers={"accept": "text/html"})
        assert page.status_code == 200 and "<img src=x" not in page.text and "&lt;img src=x" in page.text
        assert 'class="passage' in page.text and "mark" in page.text  # the passages, with their evidence marked
        assert bob.post(f"/api/conversations/{conv}", json={"title": "mine now"}).status_code == 404  # read-only
        assert conv not in {x["id"] for x in bob.get("/api/conversations").json()["conversations"]}
        assert bob.get("/api/shared/" + "x" * 32).status_code == 404
    with httpx.Client(base_url=server, timeout=60, headers=basic("ann")) as ann:
        assert ann.delete(f"/api/conversations/{conv}/share").json()["share"] is None
    with httpx.Client(base_url=server, timeout=60, headers=basic("bob")) as bob:
        gone = bob.get(shared["link"], headers={"accept": "text/html"})
        assert gone.status_code == 404 and "No such shared conversation" in gone.text
        assert bob.get(f"/api/shared/{shared['share']}").status_code == 404

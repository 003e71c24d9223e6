"""The HTTP API of conversations and feedback: /api/conversations (list, read, rename, delete)
and /api/feedback. A caller reaches only their own: another user's id answers 404, exactly like
an id that does not exist, so ids are never confirmed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from assistant.accounts import History
from assistant.app import shared_page
from assistant.app.access import Access, Visit
from assistant.types import Answer

NOT_FOUND = "No such conversation."


class Rename(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class FeedbackRequest(BaseModel):
    answer: str = Field(description="the answer's id, as /api/ask returned it (answer_id)")
    rating: str = Field(pattern="^(up|down)$")
    comment: str = Field("", max_length=2000)


def remember(history: History, visit: Visit, conversation: str | None, question: str,
             answer: Answer, backend: str, filters: dict[str, Any]) -> tuple[str | None, str | None]:
    """Save a turn (a new conversation when `conversation` is None); 404 when it is not the
    caller's. The ids of the conversation and the answer (None, None: `save_conversations` off)."""
    if not history.saving:
        return None, None
    saved = history.save(visit.principal.name, conversation, question, answer.to_dict(collections=True), backend,
                         {k: v for k, v in filters.items() if v})
    if saved is None:
        raise HTTPException(404, NOT_FOUND)
    return saved


def earlier_turns(history: History, visit: Visit, conversation: str) -> list[dict[str, str]]:
    """A saved conversation's turns as chat messages, for a follow-up; 404 when not the caller's."""
    found = history.conversation(visit.principal.name, conversation)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    out: list[dict[str, str]] = []
    for t in found.turns:
        out += [{"role": "user", "content": t.question},
                {"role": "assistant", "content": str(t.answer.get("answer", ""))}]
    return out


def router(history: History, access: Access) -> APIRouter:
    r = APIRouter()
    r.include_router(shared_page.router(history, access))

    @r.get("/api/conversations")
    def listing(request: Request, search: str = "") -> dict[str, Any]:
        mine = history.conversations(Visit.of(request).principal.name, search[:200])
        return {"conversations": [c.to_dict() for c in mine]}

    @r.get("/api/conversations/{conversation}")
    def read(conversation: str, request: Request) -> dict[str, Any]:
        found = history.conversation(Visit.of(request).principal.name, conversation)
        if found is None:
            raise HTTPException(404, NOT_FOUND)
        return found.to_dict()

    @r.post("/api/conversations/{conversation}")
    def rename(conversation: str, body: Rename, request: Request) -> dict[str, Any]:
        if not history.rename(Visit.of(request).principal.name, conversation, body.title):
            raise HTTPException(404, NOT_FOUND)
        return read(conversation, request)

    @r.delete("/api/conversations/{conversation}")
    def remove(conversation: str, request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        if not history.delete(visit.principal.name, conversation):
            raise HTTPException(404, NOT_FOUND)
        access.record(visit, "conversation-delete", "/api/conversations")
        return {"deleted": conversation}

    @r.delete("/api/conversations")
    def remove_all(request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        count = history.delete_all(visit.principal.name)
        access.record(visit, "conversation-delete", "/api/conversations")
        return {"deleted": count}

    @r.post("/api/conversations/{conversation}/share")
    def share(conversation: str, request: Request) -> dict[str, Any]:
        """A read-only link for signed-in users; viewers see only answers whose sources they may read."""
        visit = Visit.of(request)
        token = history.share(visit.principal.name, conversation)
        if token is None:
            raise HTTPException(404, NOT_FOUND)
        access.record(visit, "share", "/api/conversations")
        return {"conversation": conversation, "share": token, "link": f"/shared/{token}"}

    @r.delete("/api/conversations/{conversation}/share")
    def unshare(conversation: str, request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        if not history.unshare(visit.principal.name, conversation):
            raise HTTPException(404, NOT_FOUND)
        access.record(visit, "unshare", "/api/conversations")
        return {"conversation": conversation, "share": None}

    @r.post("/api/feedback")
    def rate(body: FeedbackRequest, request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        if not history.rate(visit.principal.name, body.answer, body.rating, body.comment, access.feedback_context()):
            raise HTTPException(404, "No such answer.")
        access.record(visit, "feedback", "/api/feedback", status=body.rating)
        return {"answer": body.answer, "rating": body.rating}

    return r

"""The HTTP API: /api/ask, /api/search, /api/status, /api/file, and OpenAI-compatible /v1 routes.

/api/ask and /api/search return what `assistant ask --json` and `assistant search --json`
print. /v1/chat/completions takes OpenAI chat messages (the last user message is the
question, the earlier turns its history) and returns a chat completion, or with
"stream": true server-sent chunks, carrying the citations in a top-level `citations` field
(of the completion, and of the final chunk) and the rest of the answer's checks in `answer`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from assistant.accounts import AuditLog, History
from assistant.app import api_files, api_history
from assistant.app.access import Access, Visit, cited
from assistant.app.api_history import earlier_turns, remember
from assistant.app.pool import Pool
from assistant.errors import AssistantError, ConfigError, QuestionError, StoreError
from assistant.types import Answer, AnswerStream, Passage, search_results

MODEL_ALIAS = "report-assistant"  # the default backend, for clients that need a model name


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD, inclusive")
    until: str | None = Field(None, description="inclusive; a year or month covers all of it")
    source: str | list[str] | None = None
    kind: str | list[str] | None = Field(None, description="document types: pdf, html, md, ...")
    collection: str | list[str] | None = Field(None, description="only these collections (within yours)")

    def kwargs(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "source": self.source, "kind": self.kind,
                "collection": self.collection}


class AskRequest(Filters):
    question: str
    history: list[dict[str, str] | tuple[str, str]] = Field(
        default_factory=list, description='earlier turns: {"role", "content"} messages or [question, answer]')
    llm: str | None = Field(None, description="answer backend (GET /api/status lists them)")
    conversation: str | None = Field(None, description="continue this conversation (its id, as returned); "
                                                       "its saved turns are the history unless one is given")


class SearchRequest(Filters):
    query: str
    k: int = Field(10, ge=1, le=100)


class Message(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, max_tokens, ...: not used
    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    filters: Filters | None = Field(None, description="extension: the filters of /api/ask")
    conversation: str | None = Field(None, description="extension: continue this saved conversation")


def router(pool: Pool, audit: AuditLog, saved: History) -> APIRouter:
    """The routes; each reads only the collections its caller may read (assistant.app.access)."""
    r = APIRouter()
    access = Access(pool, audit)
    r.include_router(api_history.router(saved, access))
    r.include_router(api_files.router(access))

    @r.post("/api/ask")
    def ask(req: AskRequest, request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        history: list[dict[str, str]] = []
        for turn in req.history:  # [question, answer] pairs become two messages
            history += [turn] if isinstance(turn, dict) else [{"role": "user", "content": turn[0]},
                                                              {"role": "assistant", "content": turn[1]}]
        if req.conversation and not history:
            history = earlier_turns(saved, visit, req.conversation)
        assistant = access.assistant(visit, req.llm)
        answer = assistant.ask(req.question, history=history, **req.kwargs())
        access.record(visit, "ask", "/api/ask", collections=cited(answer.citations), question=req.question)
        conversation, answer_id = remember(saved, visit, req.conversation, req.question, answer,
                                           assistant.settings.llm, req.kwargs())
        return {**answer.to_dict(), "conversation": conversation, "answer_id": answer_id}

    @r.post("/api/search")
    def search(req: SearchRequest, request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        passages: list[Passage] = access.assistant(visit).search(req.query, k=req.k, **req.kwargs())
        access.record(visit, "search", "/api/search", collections=cited(passages), question=req.query)
        return search_results(passages)

    @r.get("/api/status")
    def status(request: Request) -> dict[str, Any]:
        visit = Visit.of(request)
        return pool.status(visit.principal.readable).to_dict() | {
            "collections": [c.to_dict() for c in access.assistant(visit).collections()],
            "user": {"name": visit.principal.name, "role": visit.principal.role.value}}

    @r.get("/api/files")
    def files(request: Request) -> dict[str, Any]:
        """Every ingested file the caller may read, as `assistant status --files --json` lists them."""
        return {"files": [f.to_dict() for f in access.assistant(Visit.of(request)).files()]}

    @r.get("/v1/models")
    def models() -> dict[str, Any]:
        ids = [MODEL_ALIAS, *pool.names]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0,
                                            "owned_by": "report-assistant"} for i in ids]}

    @r.post("/v1/chat/completions", response_model=None)
    def chat_completions(req: ChatRequest, request: Request) -> dict[str, Any] | StreamingResponse:
        model = req.model or MODEL_ALIAS
        if model != MODEL_ALIAS and model not in pool.names:
            raise HTTPException(404, f"The model {model!r} does not exist. Models: "
                                     f"{', '.join([MODEL_ALIAS, *pool.names])}.")
        visit = Visit.of(request)
        assistant = access.assistant(visit, None if model == MODEL_ALIAS else model)
        turns = [m for m in req.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1].role != "user":
            raise QuestionError("The last message must be the user's question.")
        history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
        if req.conversation and not history:  # checked before anything is streamed: 404 if not theirs
            history = earlier_turns(saved, visit, req.conversation)
        filters = req.filters.kwargs() if req.filters else {}
        question = turns[-1].text()

        def keep(answer: Answer) -> dict[str, str | None]:
            conversation, answer_id = remember(saved, visit, req.conversation, question, answer,
                                               assistant.settings.llm, filters)
            return {"conversation": conversation, "answer_id": answer_id}

        # Fails here, before any byte is sent, on a bad question (a 400) or an unreachable LLM.
        stream = assistant.stream(turns[-1].text(), history, **filters)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not req.stream:
            answer = stream.answer
            access.record(visit, "ask", "/v1/chat/completions", collections=cited(answer.citations),
                          question=turns[-1].text())
            return {"id": cid, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": _usage(turns, answer), **_extras(answer), **keep(answer)}

        def audit(answer: Answer | None, status: int | str) -> None:
            access.record(visit, "ask", "/v1/chat/completions", status,
                          collections=cited(answer.citations) if answer else (), question=question)

        return StreamingResponse(_sse(stream, cid, created, model, keep, audit), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    known = {route.path for route in r.routes if hasattr(route, "path")}

    @r.api_route("/api/{rest:path}", methods=_METHODS, include_in_schema=False)
    @r.api_route("/v1/{rest:path}", methods=_METHODS, include_in_schema=False)
    def unknown(request: Request) -> None:
        """Routes that do not exist answer in the API's error shape, not the chat's."""
        path = request.url.path
        if path in known:
            raise HTTPException(405, f"{request.method} is not allowed on {path}; see the README's HTTP API.")
        raise HTTPException(404, f"No such route: {path}. The routes are listed in the README's HTTP API.")

    return r


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _extras(answer: Answer) -> dict[str, Any]:
    info = answer.to_dict()
    return {"citations": info.pop("citations"),
            "answer": {k: v for k, v in info.items() if k != "answer"}}


def _usage(turns: list[Message], answer: Answer) -> dict[str, int]:
    from assistant.index.tokens import count

    prompt = sum(count(m.text()) for m in turns)
    done = count(answer.text)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _sse(stream: AnswerStream, cid: str, created: int, model: str, keep: Callable[[Answer], dict[str, str | None]],
         audit: Callable[[Answer | None, int | str], None]) -> Iterator[str]:
    """The answer as server-sent chunks. Audited once it has ended, so that the event names the
    collections it cited: 200, 400 for an error sent in-band, 500 for a bug, or "disconnected"
    when the client left first (with what the answer cited if it had come that far)."""
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    status: int | str = "disconnected"
    try:
        yield chunk({"role": "assistant", "content": ""})
        try:
            for piece in stream:
                yield chunk({"content": piece})
            yield chunk({}, "stop", **_extras(stream.answer), **keep(stream.answer))
            status = 200
        except AssistantError as e:  # after the first byte the status is sent: the error goes in-band
            status = 400
            yield f"data: {json.dumps({'error': _error_body(e, 400)['error']})}\n\n"
        except Exception:
            status = 500
            raise
        yield "data: [DONE]\n\n"
    finally:
        audit(stream.reached, status)


# -- errors: every one is JSON {"error": {"message", "type", "code"}}, as OpenAI clients expect --
def _error_body(e: Exception | str, status: int, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": str(e), "type": kind, "code": status}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(_error_body("The request body is not valid JSON.", 400), 400)
        parts = []
        for e in errors[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return JSONResponse(_error_body("Invalid request: " + "; ".join(parts) + ".", 422), 422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(_error_body(exc.detail, exc.status_code), exc.status_code, headers=exc.headers)

    @app.exception_handler(AssistantError)
    async def assistant_error(_: Request, exc: AssistantError) -> JSONResponse:
        status = 503 if isinstance(exc, StoreError) else 400 if isinstance(exc, QuestionError | ConfigError) \
            else 422
        kind = "server_error" if status == 503 else "invalid_request_error"
        return JSONResponse(_error_body(exc, status, kind), status)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(_error_body("Internal error; the server log has the details.", 500, "server_error"),
                            500)

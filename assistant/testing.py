"""Test doubles for the one seam that cannot always run for real: the LLM. Public, for users'
tests too.

    from assistant import Assistant
    from assistant.testing import ScriptedLLM

    llm = ScriptedLLM(["Marvala rejected the report [1]."])
    answer = Assistant(store=".store/sample", llm=llm).ask("Why did Marvala reject the report?")
    llm.calls[0]   # the messages the answerer sent: system rules, passages, question

`OllamaStub` is a real HTTP server on 127.0.0.1 that speaks Ollama's /api/chat (streamed NDJSON),
for testing the `ollama` backend's requests and replies where no Ollama runs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.answering.llms.base import Message
from assistant.errors import LLMError

Reply = str | list[str] | Callable[[list[Message]], str]


class ScriptedLLM:
    """A chat model that replays `replies` in order, each streamed in pieces of `piece`
    characters (or as the list of pieces given), and records every call."""

    def __init__(self, replies: Sequence[Reply], *, piece: int = 4, name: str = "scripted",
                 context_window: int = 2048, grammar: bool = False) -> None:
        self.replies = list(replies)
        self.piece = piece
        self.name = name
        self.model = "scripted"
        self.context_window = context_window
        self.grammar = grammar
        self.calls: list[list[Message]] = []
        self.max_tokens: list[int] = []
        self.grammars: list[str | None] = []

    def stream(self, messages: Sequence[Message], max_tokens: int, grammar: str | None = None) -> Iterator[str]:
        self.calls.append([dict(m) for m in messages])
        self.max_tokens.append(max_tokens)
        self.grammars.append(grammar)
        if not self.replies:
            raise LLMError(f"ScriptedLLM has no reply left for call {len(self.calls)}")
        reply = self.replies.pop(0)
        if callable(reply):
            reply = reply(list(messages))
        yield from reply if isinstance(reply, list) else \
            (reply[i:i + self.piece] for i in range(0, len(reply), self.piece))

    @property
    def prompts(self) -> list[str]:
        """The last user message of each call."""
        return [next(m["content"] for m in reversed(call) if m["role"] == "user") for call in self.calls]


class OllamaStub:
    """`with OllamaStub(["reply"]) as stub:` an Ollama-speaking server at `stub.url`; the JSON
    bodies it received are in `stub.requests`. Replies stream as NDJSON, `piece` characters a line."""

    def __init__(self, replies: Sequence[str], *, piece: int = 5, model: str = "stub-model") -> None:
        self.replies = list(replies)
        self.piece = piece
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OllamaStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        reply = self.replies.pop(0) if self.replies else ""
        pieces = [reply[i:i + self.piece] for i in range(0, len(reply), self.piece)]
        base = {"model": body.get("model", self.model), "created_at": "2024-01-01T00:00:00Z"}
        out = [{**base, "message": {"role": "assistant", "content": p}, "done": False} for p in pieces]
        out.append({**base, "message": {"role": "assistant", "content": ""}, "done": True,
                    "done_reason": "stop", "prompt_eval_count": 10, "eval_count": len(pieces)})
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path != "/api/chat":
                    self._send(404, b'{"error": "not found"}', "application/json")
                    return
                stub.requests.append(body)
                if not body.get("messages"):
                    self._send(400, b'{"error": "messages are required"}', "application/json")
                    return
                chunks = stub._chunks(body)
                if body.get("stream", True):  # one JSON object a line, written as produced
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-ndjson")
                    self.end_headers()  # HTTP/1.0, no length: the stream ends when the connection closes
                    for c in chunks:
                        self.wfile.write(json.dumps(c).encode() + b"\n")
                        self.wfile.flush()
                else:
                    text = "".join(c["message"]["content"] for c in chunks)
                    final = {**chunks[-1], "message": {"role": "assistant", "content": text}}
                    self._send(200, json.dumps(final).encode(), "application/json")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


__all__ = ["OllamaStub", "ScriptedLLM"]

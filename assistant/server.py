"""One server for the chat and the HTTP API: app assembly, login, exposure check, launch.

Login is optional and comes from the environment only: ASSISTANT_UI_USER and
ASSISTANT_UI_PASSWORD. With it, every route (the chat, its Gradio endpoints, /api, /v1)
needs HTTP Basic credentials, or `Authorization: Bearer KEY` where KEY is ASSISTANT_API_KEY
(default: the password), which is what OpenAI clients send as their api_key. Without it the
server refuses to listen beyond the loopback address unless explicitly told to.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from assistant.errors import ConfigError
from assistant.pool import Pool
from assistant.settings import Settings

REALM = "Report archive assistant"
MAX_API_BODY = 1 << 20  # JSON requests to /api and /v1; uploads go through the chat, limited apart


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    api_key: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Login | None:
        env = os.environ if environ is None else environ
        user, password = env.get("ASSISTANT_UI_USER", ""), env.get("ASSISTANT_UI_PASSWORD", "")
        if not user and not password:
            return None
        if not user or not password:
            raise ConfigError("Set both ASSISTANT_UI_USER and ASSISTANT_UI_PASSWORD for a login, or neither.")
        return cls(user, password, env.get("ASSISTANT_API_KEY") or password)

    def allows(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self.api_key.encode())
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Both compared, always: the time taken says nothing about which one was wrong.
        ok_user = hmac.compare_digest(user.encode(), self.user.encode())
        ok_password = hmac.compare_digest(password.encode(), self.password.encode())
        return ok_user and ok_password


class Guard:
    """ASGI middleware: the login on every request, and a size limit on API request bodies."""

    def __init__(self, app: Any, login: Login | None) -> None:
        self.app, self.login = app, login

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.login is not None and not self.login.allows(headers.get("authorization")):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _reply(send, 401, "Log in: HTTP Basic credentials or a bearer API key.",
                                {"www-authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(("/api/", "/v1/")):
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_API_BODY:
                return await _reply(send, 413, f"The request body is over {MAX_API_BODY // 1024} KB.")
            receive = _limited(receive)
        return await self.app(scope, receive, send)


def _limited(receive: Any) -> Any:
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_API_BODY:  # a chunked body that never said its length
            from starlette.exceptions import HTTPException

            raise HTTPException(413, f"The request body is over {MAX_API_BODY // 1024} KB.")
        return message

    return wrapped


async def _reply(send: Any, status: int, message: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": status}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(host: str, login: Login | None, allow_open: bool) -> None:
    if is_loopback(host) or login is not None or allow_open:
        return
    raise ConfigError(
        f"Refusing to serve on {host} without a login: anyone who can reach this machine could read "
        f"the archive. Set ASSISTANT_UI_USER and ASSISTANT_UI_PASSWORD, or pass --allow-open to serve "
        f"it open anyway.")


def build_app(pool: Pool, login: Login | None = None) -> Any:
    """The FastAPI app: the HTTP API's routes, then the chat mounted at /."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI

    from assistant.api import install_error_handlers, router
    from assistant.ui import build
    from assistant.ui_assets import CSS, HEAD

    app = FastAPI(title=REALM, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    install_error_handlers(app)
    app.include_router(router(pool))
    blocks = build(pool).queue(default_concurrency_limit=pool.settings.ui_concurrency, max_size=256)
    app = gr.mount_gradio_app(app, blocks, path="/", footer_links=[], show_error=True,
                              max_file_size=int(pool.settings.max_file_mb * 1024 * 1024),
                              css=CSS, head=HEAD, run_history=False, mcp_server=False, ssr_mode=False)
    app.add_middleware(Guard, login=login)
    return app


@dataclass
class Served:
    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[Served]:
    """Run the app in a thread (tests, benchmarks); port 0 picks a free port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="server")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    served = Served(f"http://{host}:{sock.getsockname()[1]}", server, thread)
    try:
        yield served
    finally:
        served.stop()
        sock.close()


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, allow_open: bool = False) -> None:
    """Serve the chat and the API until interrupted (`assistant chat`)."""
    import uvicorn

    login = Login.from_env()
    check_exposure(host, login, allow_open)
    if new_store(settings):
        where = settings.chroma_url or settings.store
        print(f"No store at {where} yet: created an empty one. Add documents in the chat (the Archive "
              f"sidebar) or with `assistant ingest PATH` and the same --store or --chroma-url.", flush=True)
    app = build_app(Pool(settings), login)
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving the chat on http://{shown}:{port}/ and the HTTP API under /api and /v1"
          + (" (login required)." if login else "."), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def new_store(settings: Settings) -> bool:
    """Create an empty store (a local folder, or a collection on a Chroma server) where there is
    none, so that staff can start an archive from the chat's uploads. True when it did."""
    from assistant.embedding import model_spec
    from assistant.errors import NoStoreError
    from assistant.store import Store

    try:
        Store.open(settings)
        return False
    except NoStoreError:
        Store.create(settings, model_spec(settings.embed_model).dim)
        return True

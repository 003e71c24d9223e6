"""One server for the chat, the HTTP API and MCP at /mcp: app assembly, exposure check, launch.

Who may use it (assistant.app.identity): the users of the accounts database (a login page and
session cookie for the chat; HTTP Basic or `Authorization: Bearer KEY` for the API, which is what
OpenAI clients send as their api_key), the environment's one login (ASSISTANT_UI_USER and
ASSISTANT_UI_PASSWORD, ASSISTANT_API_KEY) as an admin, or a trusted sign-in proxy's user header.
With none of these the server is open, and refuses to listen beyond the loopback address unless
explicitly told to. Every request passes assistant.guards first, /mcp's as /api's.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.accounts import Accounts, AuditLog, History
from assistant.app.access import Access, Visit
from assistant.app.guards import MCP_PATH, REALM, Guard, Hosts
from assistant.app.identity import Gate
from assistant.app.login import Login, Throttle
from assistant.app.pool import Pool
from assistant.errors import ConfigError
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.integrations.mcp_server import HttpMount

__all__ = ["Login", "build_app", "check_exposure", "launch", "serve"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(host: str, login: Login | None, allow_open: bool, accounts: Accounts | None = None,
                   proxied: bool = False) -> None:
    """Refuse to listen beyond loopback where nothing asks who the caller is."""
    if is_loopback(host) or login is not None or allow_open or proxied or \
            (accounts is not None and accounts.any_users()):
        return
    raise ConfigError(
        f"Refusing to serve on {host} without a login: anyone who can reach this machine could read "
        f"the archive. Add users (`assistant users add NAME --role admin`), or set ASSISTANT_UI_USER and "
        f"ASSISTANT_UI_PASSWORD, or pass --allow-open to serve it open anyway.")


def build_app(pool: Pool, login: Login | None = None, hosts: Hosts | None = None,
              throttle: Throttle | None = None, accounts: Accounts | None = None,
              audit: AuditLog | None = None) -> Any:
    """The FastAPI app: the login page, the HTTP API's routes, MCP at /mcp, then the chat mounted
    at /, behind the Guard. `hosts`: the names it answers to (default: those of a server on
    127.0.0.1); `throttle`: how wrong logins are slowed (default: assistant.app.login.Throttle's);
    `accounts` and `audit`: default, the store's (assistant.accounts)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI
    from starlette.routing import Route

    from assistant.app import login_page
    from assistant.app.api import install_error_handlers, router
    from assistant.app.ui import build
    from assistant.app.ui_assets import CSS, HEAD
    from assistant.app.ui_feedback import FEEDBACK_CSS

    settings = pool.settings
    accounts = accounts or Accounts.open(settings)
    audit = audit or AuditLog.for_settings(settings)
    throttle = throttle or Throttle()
    gate = Gate(accounts, login, settings.trusted_user_header, settings.trusted_proxies, settings.auto_create_users)
    mcp = mcp_mount(Access(pool, audit))
    app = FastAPI(title=REALM, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=mcp.lifespan)
    install_error_handlers(app)
    app.router.routes.append(Route(MCP_PATH, mcp.app, methods=["GET", "POST", "DELETE"]))
    app.include_router(login_page.router(accounts, gate, throttle, audit, settings.session_hours))
    history = History(accounts.engine, settings.history_days, settings.save_conversations)
    history.keep_to_retention()
    app.include_router(router(pool, audit, history))
    blocks = build(pool, audit, history).queue(default_concurrency_limit=settings.ui_concurrency, max_size=256)
    app = gr.mount_gradio_app(app, blocks, path="/", footer_links=[], show_error=True,
                              max_file_size=int(settings.max_file_mb * 1024 * 1024),
                              css=CSS + FEEDBACK_CSS, head=HEAD, run_history=False, mcp_server=False, ssr_mode=False)
    # Gradio checks that an event's files were uploaded only once `launch()` has set this flag,
    # which mounting never does: without it any server file could be named as an upload. The
    # Guard checks the same before Gradio reads the request; this keeps Gradio's own check too.
    blocks.has_launched = True
    from gradio.utils import get_upload_folder

    app.add_middleware(Guard, gate=gate, upload_root=get_upload_folder(), throttle=throttle, audit=audit,
                       hosts=hosts or Hosts.for_server("127.0.0.1", settings.allowed_hosts))
    return app


def mcp_mount(access: Access) -> HttpMount:
    """/mcp: the Model Context Protocol over streamable HTTP (assistant.integrations.mcp_server),
    for the caller the Guard resolved, within their collections, audited as the API is."""
    from assistant.integrations.mcp_server import HttpMount
    from assistant.integrations.mcp_tools import Caller

    def caller(request: Any) -> Caller:
        visit = Visit.of(request)

        def record(action: str, collections: Sequence[str], question: str | None, status: int) -> None:
            access.record(visit, action, MCP_PATH, status, collections, question)

        return Caller(access.assistant(visit), visit.principal.name, visit.principal.role.value, record)

    return HttpMount(caller)


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
    accounts = Accounts.open(settings)
    check_exposure(host, login, allow_open, accounts, proxied=bool(settings.trusted_user_header))
    if new_store(settings):
        where = settings.chroma_url or settings.store
        print(f"No store at {where} yet: created an empty one. Add documents in the chat (the Archive "
              f"sidebar) or with `assistant ingest PATH` and the same --store or --chroma-url.", flush=True)
    app = build_app(Pool(settings), login, Hosts.for_server(host, settings.allowed_hosts), accounts=accounts)
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving the chat on http://{shown}:{port}/, the HTTP API under /api and /v1, and MCP at /mcp"
          + (" (login required)." if login or accounts.any_users() else "."), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def new_store(settings: Settings) -> bool:
    """Create an empty store (a local folder, or a collection on a Chroma server) where there is
    none, so that staff can start an archive from the chat's uploads. True when it did."""
    from assistant.errors import NoStoreError
    from assistant.index.embedding import model_spec
    from assistant.index.store import Store

    try:
        Store.open(settings)
        return False
    except NoStoreError:
        Store.create(settings, model_spec(settings.embed_model).dim)
        return True

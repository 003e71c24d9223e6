"""The server's front door: every request passes these checks before the app sees it.

- Host: only the names this server answers to, so a page whose own name resolves to 127.0.0.1
  (DNS rebinding) cannot reach a server without a login on the loopback address.
- Origin: a request that changes something (POST, an upload, a websocket), sent by another
  site's page, is refused.
- Login: who the caller is (assistant.app.identity), with wrong guesses slowed down
  (assistant.app.login.Throttle); the caller's principal goes into the request's state, where the
  routes read which collections it may read and write.
- Bodies: API bodies (/api, /v1, /mcp) at most 1 MB, and text in them must be valid Unicode (a
  lone UTF-16 surrogate cannot be encoded back, and crashed the reply). Gradio's event bodies may name only
  files that Gradio's own upload route wrote: Gradio's own check is off when an app is mounted
  rather than launched, and it hashes a named file on the event loop, so `/dev/zero` froze every
  route. Both are checked here, before Gradio reads the request; lone surrogates in a chat event
  become U+FFFD, so the question is answered (or refused) instead of killing the event stream.
- Security headers on every response (no framing, no sniffing, scripts and connections only
  from this server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import socket
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from assistant.accounts import AuditLog
from assistant.app.identity import Gate, known_name
from assistant.app.login import Throttle, basic_credentials

REALM = "Report archive assistant"
MCP_PATH = "/mcp"  # the Model Context Protocol (assistant.integrations.mcp_server): an API like /api
API_PREFIXES = ("/api/", "/v1/")
MAX_API_BODY = 1 << 20  # JSON requests to /api, /v1 and /mcp; uploads go through the chat, limited apart
MAX_EVENT_BODY = 16 << 20  # a chat event carries the conversation shown so far
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reached without a caller where accounts exist: the login form (it throttles its own guesses).
LOGIN_PATHS = frozenset({"/login", "/logout"})
_SURROGATE = re.compile("[\ud800-\udfff]")
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; "
       "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'")
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin",
           "content-security-policy": CSP, "cross-origin-opener-policy": "same-origin"}


@dataclass(frozen=True)
class Hosts:
    """The host names a request may name: loopback names, IP addresses, configured names."""

    names: frozenset[str]

    @classmethod
    def for_server(cls, bind: str, configured: str = "") -> Hosts:
        names = {"localhost", *(n.strip().lower().rstrip(".") for n in configured.split(",") if n.strip())}
        if bind in ("0.0.0.0", "::", ""):  # every address: this machine's own names too
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        else:
            names.add(bind.strip("[]").lower())
        return cls(frozenset(names))

    def allows(self, host_header: str | None) -> bool:
        if host_header is None:
            return True  # HTTP/1.0 without Host: no browser sends that, so no rebinding either
        host = _hostname(host_header)
        if host is None:
            return False
        # An address literal cannot be a rebound name: the page would have to be on it already.
        return host in self.names or _is_ip(host)


def is_api(path: str) -> bool:
    """A route of the APIs: callers are programs, so no login page, and JSON bodies are checked."""
    return path.startswith(API_PREFIXES) or path == MCP_PATH


def _hostname(netloc: str) -> str | None:
    try:
        name = urlsplit("//" + netloc.strip()).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def same_origin(origin: str, host_header: str | None, configured: Iterable[str]) -> bool:
    """Whether a browser's Origin header is this server (as the request names it, or as configured)."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, files) included
    if host_header is not None and parts.netloc.lower() == host_header.strip().lower():
        return True
    return (parts.hostname or "") in configured


class Guard:
    """ASGI middleware in front of the whole app (the checks above, in that order)."""

    def __init__(self, app: Any, gate: Gate, hosts: Hosts | None = None, upload_root: str | None = None,
                 throttle: Throttle | None = None, audit: AuditLog | None = None) -> None:
        self.app, self.gate, self.audit = app, gate, audit
        self.hosts = hosts or Hosts.for_server("127.0.0.1")
        self.upload_root = os.path.realpath(upload_root) if upload_root else None
        self.throttle = throttle or Throttle()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        http = scope["type"] == "http"
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        reply = _Reply(send, http)
        if not self.hosts.allows(headers.get("host")):
            return await reply(400, f"This server does not answer to the host name in the request "
                                    f"({headers.get('host', '')!r}); add it to allowed_hosts if it is yours.")
        method = scope.get("method", "GET") if http else "WEBSOCKET"
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin is not None and \
                not same_origin(origin, headers.get("host"), self.hosts.names - {"localhost"}):
            return await reply(403, "Cross-site request refused: it came from a page on another site.")
        if not (scope.get("path", "") in LOGIN_PATHS and await asyncio.to_thread(self.gate.pages_login)):
            refused = await self._check_login(scope, headers, reply, method)
            if refused:
                return None
        if http:
            receive = await self._checked_body(scope, method, headers, receive, reply)
            if receive is None:
                return None
            send = _with_headers(send)
        return await self.app(scope, receive, send)

    async def _check_login(self, scope: dict[str, Any], headers: dict[str, str], reply: _Reply,
                           method: str) -> bool:
        """True when the request was refused (and answered); else the caller is in scope["state"]."""
        address = (scope.get("client") or ("unknown", 0))[0]
        header = headers.get("authorization")
        keys = [f"addr:{address}"]
        user, _ = basic_credentials(header)
        if user is not None:
            keys.append(f"user:{user}")
        # Refused unchecked while waiting: a guesser learns nothing, and costs no password hashing.
        wait = self.throttle.wait(keys) if header else 0.0
        if wait > 0:
            seconds = max(1, round(wait))
            await reply(429, f"Too many wrong logins; try again in {seconds} s.", {"retry-after": str(seconds)})
            return True
        caller = await asyncio.to_thread(self.gate.resolve, headers, address)
        if caller.principal is not None:
            if header:
                self.throttle.succeeded(keys)
            state = scope.setdefault("state", {})
            state["principal"], state["how"] = caller.principal, caller.how
            return False
        if caller.guessed:  # a request without credentials is a browser asking for the login, not a guess
            self.throttle.failed(keys)
            if self.audit is not None:
                self.audit.record("failed-login", user=known_name(self.gate.accounts, user), address=address,
                                  route=scope.get("path", ""), status=401)
        path = scope.get("path", "")
        if caller.status == 401 and method == "GET" and not header and self.gate.pages_login() and \
                not is_api(path) and not path.startswith("/gradio_api/") and "text/html" in headers.get("accept", ""):
            await reply.redirect("/login?next=" + quote(path or "/", safe="/"))
            return True
        extra = {"www-authenticate": f'Basic realm="{REALM}", charset="UTF-8"'} if caller.status == 401 else {}
        await reply(caller.status, caller.refusal, extra)
        return True

    async def _checked_body(self, scope: dict[str, Any], method: str, headers: dict[str, str], receive: Any,
                            reply: _Reply) -> Any:
        """The body checked and replayed, or None when the request was refused (and answered)."""
        path = scope.get("path", "")
        api = is_api(path)
        event = method == "POST" and not api and self.upload_root is not None \
            and not path.startswith("/gradio_api/upload")
        if not (api and method not in SAFE_METHODS) and not event:
            return receive
        limit = MAX_API_BODY if api else MAX_EVENT_BODY
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await reply(413, f"The request body is over {limit // 1024} KB.")
            return None
        body = await _read(receive, limit)
        if body is None:
            await reply(413, f"The request body is over {limit // 1024} KB.")
            return None
        data = _json(body)
        if data is not _NOT_JSON and _has_surrogate(data):
            if api:
                await reply(400, "The request holds text that is not valid Unicode (a lone UTF-16 surrogate "
                                 "such as \\ud800); send the text as UTF-8.")
                return None
            data = _clean(data)
            body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        if event and data is not _NOT_JSON:
            bad = next((p for p in _file_paths(data) if not self._uploaded(p)), None)
            if bad is not None:
                await reply(400, "A file named in this request was not uploaded through the chat; only files "
                                 "sent to /gradio_api/upload can be used.")
                return None
        return _replay(body, receive)

    def _uploaded(self, path: str) -> bool:
        """A regular file that Gradio's upload route wrote: inside its folder, no link, no device."""
        assert self.upload_root is not None
        real = os.path.realpath(path)
        if not real.startswith(self.upload_root + os.sep):
            return False
        try:
            return stat.S_ISREG(os.lstat(path).st_mode)
        except (OSError, ValueError):
            return False


_NOT_JSON = object()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON  # the route's own parser answers that


def _walk(data: Any) -> Iterable[Any]:
    stack = [data]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _has_surrogate(data: Any) -> bool:
    return any(isinstance(x, str) and _SURROGATE.search(x) for x in _walk(data))


def _clean(data: Any) -> Any:
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    if isinstance(data, list):
        return [_clean(x) for x in data]
    if isinstance(data, dict):
        return {_clean(k): _clean(v) for k, v in data.items()}
    return data


def _file_paths(data: Any) -> Iterable[str]:
    """Every "path" of a file object (Gradio's FileData, or anything shaped like one)."""
    for item in _walk(data):
        if isinstance(item, dict) and "path" in item:
            path = item["path"]
            yield path if isinstance(path, str) else ""


async def _read(receive: Any, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client left; the app sees an empty or partial body
        body = message.get("body", b"")
        size += len(body)
        if size > limit:  # a chunked body that never said its length
            return None
        chunks.append(body)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replayed() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then wait for the disconnect, as the server would say it

    return replayed


def _with_headers(send: Any) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            present = {k.decode("latin-1").lower() for k, _ in message.get("headers", [])}
            extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


class _Reply:
    """An error in the API's shape, {"error": {"message", "type", "code"}}, or a websocket close."""

    def __init__(self, send: Any, http: bool) -> None:
        self.send, self.http = send, http

    async def redirect(self, location: str) -> None:
        if not self.http:
            return await self.send({"type": "websocket.close", "code": 1008})
        headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
        headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
        await self.send({"type": "http.response.start", "status": 303, "headers": headers})
        await self.send({"type": "http.response.body", "body": b""})

    async def __call__(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        if not self.http:
            return await self.send({"type": "websocket.close", "code": 1008})
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": status}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in {**HEADERS, **(extra or {})}.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

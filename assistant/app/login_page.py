"""The chat's login page and logout: a form that opens a session (an HttpOnly, SameSite=Lax cookie,
Secure over HTTPS), for teams whose users live in the accounts database. Wrong passwords are slowed
by the server's throttle, per address and per user name, like HTTP Basic guesses."""

from __future__ import annotations

import asyncio
import html
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.accounts import Accounts, AuditLog
from assistant.app.identity import SESSION_COOKIE, Gate, known_name, session_token
from assistant.app.login import Throttle

TITLE = "Report archive assistant"
MAX_FORM = 8192  # a name and a password; anything longer is not a login


def local_target(target: str | None) -> str:
    """Where to go after logging in: a path on this server only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def page(message: str = "", target: str = "/", name: str = "", status: int = 200) -> HTMLResponse:
    note = f'<p class="note" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Log in · {TITLE}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f6f7f9;margin:0;display:flex;min-height:100vh;
align-items:center;justify-content:center}}
form{{background:#fff;padding:2rem;border-radius:10px;box-shadow:0 1px 4px #0002;width:min(22rem,90vw)}}
h1{{font-size:1.25rem;margin:0 0 1.25rem}} label{{display:block;margin:.75rem 0 .25rem;font-weight:600}}
input{{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #bbb;border-radius:6px;font-size:1rem}}
button{{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#2754c5;color:#fff;
font-size:1rem;cursor:pointer}} .note{{color:#a10d0d;margin:0 0 .5rem}}
</style></head><body>
<form method="post" action="/login" id="login">
<h1>{TITLE}</h1>{note}
<input type="hidden" name="next" value="{html.escape(target)}">
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required
 value="{html.escape(name)}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
 autocomplete="current-password" required>
<button type="submit">Log in</button>
</form></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


def secure(request: Request, gate: Gate) -> bool:
    """Served over HTTPS: directly, or behind a trusted proxy that says so."""
    if request.url.scheme == "https":
        return True
    client = request.client.host if request.client else ""
    return gate.trusted(client) and request.headers.get("x-forwarded-proto", "").lower() == "https"


def router(accounts: Accounts, gate: Gate, throttle: Throttle, audit: AuditLog, session_hours: float) -> APIRouter:
    r = APIRouter()

    @r.get("/login", include_in_schema=False)
    def show(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query's name
        target = local_target(next)
        token = session_token(request.headers.get("cookie", ""))
        if token and accounts.session(token) is not None:
            return RedirectResponse(target, status_code=303)
        return page(target=target)

    @r.post("/login", include_in_schema=False)
    async def submit(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_FORM].decode("utf-8", "replace"), max_num_fields=8)
        name = (form.get("name") or [""])[0].strip()
        password = (form.get("password") or [""])[0]
        target = local_target((form.get("next") or ["/"])[0])
        address = request.client.host if request.client else "unknown"
        keys = [f"addr:{address}", f"user:{name}"]
        wait = throttle.wait(keys)
        if wait > 0:
            return page(f"Too many wrong logins; try again in {max(1, round(wait))} s.", target, name, 429)
        found = await asyncio.to_thread(accounts.check_password, name, password) if name and password else None
        if found is None:
            throttle.failed(keys)
            audit.record("failed-login", user=known_name(accounts, name), address=address, route="/login",
                         status=401)
            return page("Wrong name or password.", target, name, 401)
        throttle.succeeded(keys)
        token = await asyncio.to_thread(accounts.start_session, found.name)
        audit.record("login", user=found.name, address=address, route="/login", status=200)
        done = RedirectResponse(target, status_code=303)
        done.set_cookie(SESSION_COOKIE, token, max_age=int(session_hours * 3600), httponly=True, samesite="lax",
                        secure=secure(request, gate), path="/")
        return done

    @r.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        token = session_token(request.headers.get("cookie", ""))
        who = accounts.session(token) if token else None
        if token:
            accounts.end_session(token)
        if who is not None:
            address = request.client.host if request.client else "unknown"
            audit.record("logout", user=who.name, address=address, route="/logout", status=200)
        done = RedirectResponse("/login", status_code=303)
        done.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return done

    return r

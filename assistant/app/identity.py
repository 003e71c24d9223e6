"""Who is asking: every request's caller, from the first of these that applies.

1. A trusted proxy's user header (`trusted_user_header`), believed only from `trusted_proxies`.
2. The chat's session cookie (set by the login page, assistant.app.login_page).
3. `Authorization`: the environment's login (ASSISTANT_UI_USER/PASSWORD, ASSISTANT_API_KEY), else
   a user's API key (`Bearer`) or password (HTTP Basic) from the accounts database.
4. Nobody: allowed only while no login of any kind exists, and the server then listens on the
   loopback address only (assistant.app.server.check_exposure): the single-user default.

Whether users exist is asked of the database on each request, so the first `assistant users add`
closes an open server at once, and a removed user's key or session stops working at once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from assistant.accounts import AccountError, Accounts, Principal, Role
from assistant.app.login import Login, basic_credentials
from assistant.errors import ConfigError

SESSION_COOKIE = "ra_session"
# Anyone on the loopback address while no login exists: the person at this machine.
LOCAL = Principal("local", Role.ADMIN, None, None)


@dataclass(frozen=True)
class Caller:
    """The outcome for one request: a principal, or why there is none (`refusal`, with the
    throttle's keys for a wrong guess). `how`: cookie, basic, key, env, proxy or open."""

    principal: Principal | None
    how: str = ""
    guessed: bool = False  # credentials were sent, and were wrong: counts towards the throttle
    refusal: str = ""
    status: int = 401


def _networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(f"trusted_proxies: {part!r} is not an address or CIDR range "
                                  f"(e.g. 127.0.0.1/32 or 10.0.0.0/8).") from None
    return tuple(out)


class Gate:
    """Resolves callers; one per server. `accounts` may be None (no database: tests of the
    environment login alone)."""

    def __init__(self, accounts: Accounts | None, login: Login | None = None, user_header: str = "",
                 proxies: str = "", auto_create: bool = False) -> None:
        self.accounts, self.login = accounts, login
        self.user_header = user_header.strip().lower()
        self.proxies = _networks(proxies)
        if self.user_header and not self.proxies:
            raise ConfigError("A trusted user header needs the proxies it is believed from: set trusted_proxies "
                              "(--trusted-proxy CIDR); from anyone else, anyone could name any user.")
        self.auto_create = auto_create

    def open(self) -> bool:
        """No login of any kind exists: the loopback single-user default."""
        return self.login is None and not self.user_header and \
            (self.accounts is None or not self.accounts.any_users())

    def pages_login(self) -> bool:
        """Whether a browser without credentials is sent to the login page (accounts exist) rather
        than asked for HTTP Basic credentials (the environment's login alone, as before)."""
        return self.accounts is not None and self.accounts.any_users()

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.proxies)

    def resolve(self, headers: dict[str, str], address: str) -> Caller:
        if self.open():  # credentials sent anyway (an OpenAI client's api_key="unused") change nothing
            return Caller(LOCAL, "open")
        if self.user_header and self.trusted(address):
            name = headers.get(self.user_header, "").strip()
            if name:
                return self._proxied(name)
        if self.accounts is not None:
            token = session_token(headers.get("cookie", ""))
            if token:
                found = self.accounts.session(token)
                if found is not None:
                    return Caller(found, "cookie")
        header = headers.get("authorization")
        if header:
            return self._authorization(header)
        return Caller(None, refusal="Log in: HTTP Basic credentials or a bearer API key.")

    def _proxied(self, name: str) -> Caller:
        found = self.accounts.get(name) if self.accounts is not None else None
        if found is None and self.auto_create and self.accounts is not None:
            try:
                found = self.accounts.create_reader(name)
            except AccountError as e:  # a name no account may have (spaces, a colon, ...)
                return Caller(None, refusal=f"The sign-in proxy named no valid user: {e}", status=403)
        if found is None:
            return Caller(None, refusal=f"The user {name!r} named by the sign-in proxy has no account here; "
                                        f"an admin adds it with `assistant users add`.", status=403)
        return Caller(found, "proxy")

    def _authorization(self, header: str) -> Caller:
        if self.login is not None and self.login.allows(header):
            return Caller(Principal(self.login.user, Role.ADMIN, None, None), "env")
        wrong = Caller(None, guessed=True, refusal="Log in: HTTP Basic credentials or a bearer API key.")
        if self.accounts is None:
            return wrong
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            found = self.accounts.check_key(value.strip())
            return Caller(found, "key") if found is not None else wrong
        user, password = basic_credentials(header)
        if user is None:
            return wrong
        found = self.accounts.check_password(user, password or "")
        return Caller(found, "basic") if found is not None else wrong


def known_name(accounts: Accounts | None, name: str | None) -> str | None:
    """A failed login's user name for the audit log, only where it is an account's: what people type
    into the name field is sometimes their password."""
    if not name or accounts is None:
        return None
    try:
        return name if accounts.get(name) is not None else None
    except AccountError:
        return None


def session_token(cookie_header: str) -> str:
    if not cookie_header:
        return ""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed cookie header is no session, not an error page
        return ""
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else ""


def principal_of(request: Any) -> Principal:
    """The caller the Guard resolved for this request (FastAPI or Gradio request object)."""
    state = getattr(request, "state", None)
    found = getattr(state, "principal", None) if state is not None else None
    if not isinstance(found, Principal):
        # Only the Guard sets it; a route reached without it is a wiring fault, never "everyone".
        raise PermissionError("This request carries no caller.")
    return found

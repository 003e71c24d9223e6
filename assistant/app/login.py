"""Who may use the server: the login from the environment, and a throttle on wrong guesses.

Login comes from ASSISTANT_UI_USER and ASSISTANT_UI_PASSWORD (and ASSISTANT_API_KEY, default
the password, for `Authorization: Bearer`). Wrong credentials are counted per client address
and per user name: after a few, each further try must wait twice as long as the last (up to five
minutes), and tries made while waiting are refused unchecked, so a guesser gets a handful of
guesses an hour instead of a thousand a second.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from assistant.errors import ConfigError


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
        user, password = basic_credentials(header)
        if user is None:
            return False
        # Both compared, always: the time taken says nothing about which one was wrong.
        ok_user = hmac.compare_digest(user.encode(), self.user.encode())
        ok_password = hmac.compare_digest((password or "").encode(), self.password.encode())
        return ok_user and ok_password


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """(user, password) from an HTTP Basic Authorization header; (None, None) otherwise."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return user, password


@dataclass
class _Tries:
    failures: int = 0
    last: float = 0.0


class Throttle:
    """Failed logins per key (an address, a user name); thread-safe, bounded in memory."""

    FREE = 5  # wrong tries allowed back to back (typos)
    MAX_WAIT = 300.0
    FORGET_S = 3600.0  # a key quiet this long starts afresh
    MAX_KEYS = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic, free: int = FREE) -> None:
        self.free = free
        self._tries: dict[str, _Tries] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def wait(self, keys: Sequence[str]) -> float:
        """Seconds before any of these keys may try again (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [self._wait(self._tries.get(k), now) for k in keys]
        return max(waits, default=0.0)

    def _wait(self, t: _Tries | None, now: float) -> float:
        if t is None or t.failures < self.free or now - t.last > self.FORGET_S:
            return 0.0
        delay = min(2.0 ** (t.failures - self.free), self.MAX_WAIT)
        return max(0.0, t.last + delay - now)

    def failed(self, keys: Sequence[str]) -> None:
        now = self._clock()
        with self._lock:
            if len(self._tries) >= self.MAX_KEYS:  # drop the stalest half rather than grow
                for k, _ in sorted(self._tries.items(), key=lambda kv: kv[1].last)[: self.MAX_KEYS // 2]:
                    del self._tries[k]
            for k in keys:
                t = self._tries.get(k)
                if t is None or now - t.last > self.FORGET_S:
                    t = self._tries[k] = _Tries()
                t.failures += 1
                t.last = now

    def succeeded(self, keys: Sequence[str]) -> None:
        with self._lock:
            for k in keys:
                self._tries.pop(k, None)

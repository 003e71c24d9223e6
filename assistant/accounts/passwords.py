"""Secrets at rest: argon2 for passwords; SHA-256 for API keys and session tokens (random and
high-entropy, so a fast hash is a safe lookup index); and the cache that spares a repeated
HTTP Basic check its argon2 verify (about 0.15 s here each)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "ra_"  # recognisable in a config file or a leak scanner's report
HASHER = PasswordHasher()  # argon2id with the library's defaults; tests swap in a cheaper one
_dummy: dict[int, str] = {}


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches; with no stored hash (no such user, or one who cannot log in
    with a password) a dummy hash is verified all the same, so the time taken says nothing."""
    target = stored if stored is not None else _dummy_hash()
    try:
        ok = HASHER.verify(target, password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored is not None


def needs_rehash(stored: str) -> bool:
    try:
        return bool(HASHER.check_needs_rehash(stored))
    except (InvalidHashError, ValueError):
        return False


def warm() -> None:
    """Makes the dummy hash now, so that the first check of a name that does not exist costs no
    more than any other (making it is a hash on top of the verify)."""
    _dummy_hash()


def _dummy_hash() -> str:
    # Made with the hasher in use (by id: tests replace it), so it costs what a real one costs.
    key = id(HASHER)
    if key not in _dummy:
        _dummy[key] = HASHER.hash(secrets.token_urlsafe(16))
    return _dummy[key]


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The stored form of a key or a session token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class VerifiedCache:
    """(user, password) pairs verified recently -> the hash they were verified against.

    A hit counts only while the user's stored hash is still that one (the caller re-reads it),
    so a changed password or a removed user takes effect at once. Keys are an HMAC of the
    password under a secret made for this process, not a plain hash, so the memory of the process
    holds nothing a password list could be checked against faster than argon2 without it too.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, bytes], str] = OrderedDict()

    def _key(self, name: str, password: str) -> tuple[str, bytes]:
        return name, hmac.new(self._secret, password.encode("utf-8"), hashlib.sha256).digest()

    def get(self, name: str, password: str) -> str | None:
        key = self._key(name, password)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, name: str, password: str, stored: str) -> None:
        key = self._key(name, password)
        with self._lock:
            self._items[key] = stored
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == name]:
                del self._items[key]

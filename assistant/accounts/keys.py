"""API keys: made for a user and shown once, kept only as their SHA-256 with their first
characters (the hint, which tells a user's keys apart), listed, and revoked one at a time or all
together. A key is a `Bearer` credential for the HTTP API and MCP (assistant/app/identity.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from assistant.accounts import passwords
from assistant.accounts.principal import AccountError
from assistant.accounts.tables import api_keys

HINT = len(passwords.KEY_PREFIX) + 4  # characters of a key kept in the clear: "ra_" and four more


@dataclass(frozen=True)
class KeyInfo:
    """One API key as `assistant users keys` shows it: never the key, never its hash."""

    hint: str
    created: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, str]:
        return {"hint": self.hint, "created": self.created}


def make(conn: Connection, user_id: int, created: datetime) -> str:
    key = passwords.new_key()
    conn.execute(insert(api_keys).values(user_id=user_id, digest=passwords.digest(key), hint=key[:HINT],
                                         created=created))
    return key


def listed(conn: Connection, user_id: int) -> list[KeyInfo]:
    rows = conn.execute(select(api_keys.c.hint, api_keys.c.created).where(api_keys.c.user_id == user_id)
                        .order_by(api_keys.c.created, api_keys.c.id))
    return [KeyInfo(hint, created.isoformat(timespec="seconds")) for hint, created in rows]


def revoke(conn: Connection, user_id: int, name: str, which: str | None) -> int:
    """The user's keys deleted: all (`which` None), the one `which` is, or those whose hint it is
    (two keys share a hint about once in 16 million). How many went; AccountError for none."""
    where = api_keys.c.user_id == user_id
    if which is not None:
        if not which.startswith(passwords.KEY_PREFIX) or len(which) < HINT:
            raise AccountError(f"Name the key by its first {HINT} characters (as `assistant users keys "
                               f"{name}` shows them) or whole, not {which[:HINT]!r}.")
        where &= (api_keys.c.digest == passwords.digest(which)) if len(which) > HINT else (api_keys.c.hint == which)
    gone = int(conn.execute(delete(api_keys).where(where)).rowcount or 0)
    if which is not None and not gone:
        raise AccountError(f"{name} has no API key {which[:HINT]}...: `assistant users keys {name}` lists theirs.")
    return gone

"""Who someone is to the app: a role and the collections they may read and write, and the
checks on names that every way in (CLI, server, API) shares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from assistant.errors import AssistantError


class AccountError(AssistantError):
    """A user's mistake with accounts: unknown or duplicate user, bad role, name or password."""


class Role(StrEnum):
    READER = "reader"  # asks and searches the collections granted
    EDITOR = "editor"  # also uploads to and removes from those granted for writing
    ADMIN = "admin"  # every collection, and user management

    @classmethod
    def parse(cls, value: Role | str) -> Role:
        try:
            return cls(value)
        except ValueError:
            raise AccountError(f"Unknown role {str(value)!r}: use reader, editor or admin.") from None


# A user name travels in HTTP Basic credentials (split at the first ':') and in a proxy's header:
# no colon, no spaces, nothing that needs quoting; '@' and '+' for e-mail-style names.
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_COLLECTION = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not _USER.fullmatch(name):
        raise AccountError(f"Bad user name {str(name)[:80]!r}: use 1 to 64 letters, digits and . _ @ + - "
                           "(starting with a letter or digit).")
    return name


def check_collections(names: Iterable[str]) -> frozenset[str]:
    """The names, each checked; a single string is refused (it would iterate as letters)."""
    if isinstance(names, str):
        raise TypeError("collections must be an iterable of names, not one string")
    out = set()
    for n in names:
        if not isinstance(n, str) or not _COLLECTION.fullmatch(n):
            raise AccountError(f"Bad collection name {str(n)[:80]!r}: use 1 to 64 letters, digits, '-', '_' and '.'.")
        out.add(n)
    return frozenset(out)


def check_grants(name: str, role: Role, read: frozenset[str], write: frozenset[str]) -> None:
    if role is Role.ADMIN and read:
        raise AccountError(f"{name} is an admin, who reads and writes every collection: grant collections "
                           "to readers and editors only.")
    if role is Role.READER and write:
        raise AccountError(f"{name} is a reader, who cannot write: make them an editor "
                           f"(`assistant users role {name} editor`) to let them write to {', '.join(sorted(write))}.")


def check_password_text(password: str) -> str:
    if not isinstance(password, str) or password == "":
        raise AccountError("The password is empty.")
    return password


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the server sees them. `read`/`write` None: every collection (admin)."""

    name: str
    role: Role
    read: frozenset[str] | None
    write: frozenset[str] | None

    def can_read(self, collection: str) -> bool:
        return self.read is None or collection in self.read

    def can_write(self, collection: str) -> bool:
        return self.write is None or collection in self.write

    @property
    def readable(self) -> tuple[str, ...] | None:
        """The collections readable, sorted; None: all of them."""
        return None if self.read is None else tuple(sorted(self.read))

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @classmethod
    def build(cls, name: str, role: Role, grants: Iterable[tuple[str, bool]]) -> Principal:
        """From stored grants (collection, writable): writing implies reading; a reader writes
        nothing whatever is stored; an admin's grants are not consulted."""
        if role is Role.ADMIN:
            return cls(name, role, None, None)
        pairs = list(grants)
        read = frozenset(c for c, _ in pairs)
        write = frozenset(c for c, w in pairs if w) if role is Role.EDITOR else frozenset()
        return cls(name, role, read, write)


@dataclass(frozen=True)
class UserInfo:
    """One user as `assistant users list` shows them (never a hash)."""

    name: str
    role: Role
    read: tuple[str, ...]
    write: tuple[str, ...]
    keys: int
    created: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role.value, "read": list(self.read), "write": list(self.write),
                "keys": self.keys, "created": self.created}

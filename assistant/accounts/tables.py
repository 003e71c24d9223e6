"""The state database's tables as the code uses them (SQLAlchemy Core). The schema itself is
made by the migrations in `migrations/versions/`; a test checks that the two agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Dialect, ForeignKey, Integer, MetaData, String, Table, TypeDecorator

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. PostgreSQL keeps the zone; SQLite stores naive text,
    so naive means UTC here (and text compares in time order, which session expiry relies on)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state database; use UTC-aware ones")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=True),  # None: no password login (a proxy's user)
    Column("created", UTCDateTime, nullable=False),
)

# One row per (user, collection) granted; writing implies reading.
grants = Table(
    "grants", metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("collection", String(64), primary_key=True),
    Column("can_write", Boolean, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 of the key, hex
    Column("hint", String(16), nullable=False),  # the key's first characters, to tell keys apart
    Column("created", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the cookie's token, hex
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False, index=True),
)

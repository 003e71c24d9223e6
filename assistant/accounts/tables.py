"""The state database's tables as the code uses them (SQLAlchemy Core). The schema itself is
made by the migrations in `migrations/versions/`; a test checks that the two agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

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

# Conversations belong to an owner's name ("local" for the open single-user chat, which has no
# users row); a turn keeps the answer as its JSON (Answer.to_dict()), as shown when it was asked.
conversations = Table(
    "conversations", metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("share", String(64), nullable=True),  # the token of its read-only link (None: not shared)
    Index("ix_conversations_owner_updated", "owner", "updated"),
    Index("uq_conversations_share", "share", unique=True),
)

turns = Table(
    "turns", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("backend", String(32), nullable=False),
    Column("filters", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False, index=True),
    Column("refused", Boolean, nullable=False, server_default=false()),  # also in `answer`; here to count
    UniqueConstraint("conversation_id", "position"),
)

# One verdict per answer (its owner's; rating again replaces it).
feedback = Table(
    "feedback", metadata,
    Column("turn_id", String(32), ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True),
    Column("rating", String(8), nullable=False),
    Column("comment", Text, nullable=False),
    Column("context", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False, index=True),
)


def forget_conversations(conn: Any, where: Any) -> int:
    """Delete the conversations `where` selects, with their turns and feedback, children first
    (SQLite honours ON DELETE CASCADE only where foreign keys are on); how many went."""
    from sqlalchemy import delete, select

    ids = [r.id for r in conn.execute(select(conversations.c.id).where(where))]
    if not ids:
        return 0
    doomed = select(turns.c.id).where(turns.c.conversation_id.in_(ids))
    conn.execute(delete(feedback).where(feedback.c.turn_id.in_(doomed)))
    conn.execute(delete(turns).where(turns.c.conversation_id.in_(ids)))
    conn.execute(delete(conversations).where(conversations.c.id.in_(ids)))
    return len(ids)

"""Each user's conversations as they happen (every turn: the question, the answer as shown with
its citations, the backend, the filters), and feedback on answers, in the state database.

Privacy is in every query: a conversation or turn is found only together with its owner, so
another user's id reads exactly like one that does not exist (the routes answer 404 for both)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from assistant.accounts.accounts import now
from assistant.accounts.db import open_engine, writing
from assistant.accounts.principal import AccountError
from assistant.accounts.tables import conversations, feedback, forget_conversations, turns
from assistant.settings import Settings

TITLE_CHARS = 120
RATINGS = ("up", "down")
MAX_COMMENT = 2000


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    created: datetime
    updated: datetime
    turns: int
    share: str | None = None  # the token of its read-only link, while it is shared

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "created": self.created.isoformat(),
                "updated": self.updated.isoformat(), "turns": self.turns, "share": self.share}


@dataclass(frozen=True)
class SavedTurn:
    """One question and its answer as shown (`answer`: Answer.to_dict()), with its feedback."""

    id: str
    question: str
    answer: dict[str, Any]
    backend: str
    filters: dict[str, Any]
    created: datetime
    rating: str | None = None
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answer": self.answer, "backend": self.backend,
                "filters": self.filters, "created": self.created.isoformat(), "rating": self.rating,
                "comment": self.comment}


@dataclass(frozen=True)
class Conversation:
    info: ConversationInfo
    turns: list[SavedTurn]

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "turns": [t.to_dict() for t in self.turns]}


@dataclass(frozen=True)
class Rated:
    """A verdict with what it was about: the material of the admin page and of eval exports."""

    turn: SavedTurn
    owner: str
    conversation: str
    rating: str
    comment: str
    context: dict[str, Any]
    created: datetime


def title_for(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


class History:
    """Conversations and feedback; thread-safe (every call is its own transaction)."""

    PURGE_EVERY = timedelta(days=1)

    def __init__(self, engine: Engine, keep_days: int = 0, saving: bool = True) -> None:
        self.engine = engine
        self.keep_days = keep_days  # the `history_days` retention (0: keep)
        self.saving = saving  # the `save_conversations` setting: off, callers save nothing
        self._purged: datetime | None = None

    @classmethod
    def open(cls, settings: Settings) -> History:
        engine, _ = open_engine(settings)
        return cls(engine, settings.history_days, settings.save_conversations)

    def keep_to_retention(self) -> int:
        """Apply `history_days` now if it has not been applied in the last day (a save calls
        this, so a server that runs for weeks keeps to it); how many conversations went."""
        if self.keep_days <= 0 or (self._purged is not None and now() - self._purged < self.PURGE_EVERY):
            return 0
        self._purged = now()
        return self.purge(timedelta(days=self.keep_days))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def save(self, owner: str, conversation: str | None, question: str, answer: Mapping[str, Any],
             backend: str, filters: Mapping[str, Any]) -> tuple[str, str] | None:
        """Add a turn: to `conversation` (None: a new one, titled by the question). The ids of the
        conversation and the turn; None when `conversation` is not the owner's."""
        self.keep_to_retention()
        stamp = now()
        with writing(self.engine) as conn:
            if conversation is None:
                conversation = uuid.uuid4().hex
                conn.execute(conversations.insert().values(id=conversation, owner=owner, title=title_for(question),
                                                           created=stamp, updated=stamp))
                position = 0
            else:
                found = conn.execute(select(conversations.c.id).where(
                    conversations.c.id == conversation, conversations.c.owner == owner)).first()
                if found is None:
                    return None
                position = conn.execute(select(func.count()).where(
                    turns.c.conversation_id == conversation)).scalar_one()
                conn.execute(update(conversations).where(conversations.c.id == conversation).values(updated=stamp))
            turn = uuid.uuid4().hex
            conn.execute(turns.insert().values(
                id=turn, conversation_id=conversation, position=position, question=question,
                answer=json.dumps(dict(answer), ensure_ascii=False), backend=backend,
                refused=bool(answer.get("refused")),
                filters=json.dumps(dict(filters), ensure_ascii=False), created=stamp))
        return conversation, turn

    def conversations(self, owner: str, search: str = "", limit: int = 200) -> list[ConversationInfo]:
        """The owner's conversations, latest first; `search`: words the title must contain."""
        count = select(func.count()).where(turns.c.conversation_id == conversations.c.id).scalar_subquery()
        query = select(conversations, count.label("n")).where(conversations.c.owner == owner)
        for word in search.split():
            escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(conversations.c.title).like(f"%{escaped}%", escape="\\"))
        query = query.order_by(conversations.c.updated.desc(), conversations.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [ConversationInfo(r.id, r.title, r.created, r.updated, int(r.n), r.share)
                    for r in conn.execute(query)]

    def conversation(self, owner: str, conversation: str) -> Conversation | None:
        return self._read((conversations.c.id == conversation) & (conversations.c.owner == owner))

    def shared(self, token: str) -> tuple[str, Conversation] | None:
        """The owner and the conversation a share link's token opens (None: not shared, or no more)."""
        if not token:
            return None
        found = self._read(conversations.c.share == token)
        if found is None:
            return None
        with self.engine.connect() as conn:
            owner = conn.execute(select(conversations.c.owner).where(conversations.c.share == token)).scalar_one()
        return owner, found

    def share(self, owner: str, conversation: str) -> str | None:
        """A read-only link's token for the owner's conversation (the same one while it is shared);
        None when it is not the owner's."""
        with writing(self.engine) as conn:
            row = conn.execute(select(conversations.c.share).where(
                conversations.c.id == conversation, conversations.c.owner == owner)).first()
            if row is None:
                return None
            if row.share:
                return str(row.share)
            token = secrets.token_urlsafe(24)
            conn.execute(update(conversations).where(conversations.c.id == conversation).values(share=token))
            return token

    def unshare(self, owner: str, conversation: str) -> bool:
        """Close the link: its token opens nothing from now on."""
        with writing(self.engine) as conn:
            done = conn.execute(update(conversations).where(
                conversations.c.id == conversation, conversations.c.owner == owner).values(share=None))
        return done.rowcount > 0

    def _read(self, where: Any) -> Conversation | None:
        with self.engine.connect() as conn:
            head = conn.execute(select(conversations).where(where)).first()
            if head is None:
                return None
            rows = conn.execute(select(turns, feedback.c.rating, feedback.c.comment)
                                .outerjoin(feedback, feedback.c.turn_id == turns.c.id)
                                .where(turns.c.conversation_id == head.id).order_by(turns.c.position)).all()
        saved = [_turn(r) for r in rows]
        return Conversation(ConversationInfo(head.id, head.title, head.created, head.updated, len(saved),
                                             head.share), saved)

    def rename(self, owner: str, conversation: str, title: str) -> bool:
        title = " ".join(title.split())
        if not title:
            raise AccountError("A conversation's title cannot be empty.")
        with writing(self.engine) as conn:
            done = conn.execute(update(conversations).where(
                conversations.c.id == conversation, conversations.c.owner == owner).values(title=title[:200]))
        return done.rowcount > 0

    def delete(self, owner: str, conversation: str) -> bool:
        with writing(self.engine) as conn:
            return self._delete(conn, (conversations.c.id == conversation) & (conversations.c.owner == owner)) > 0

    def delete_all(self, owner: str) -> int:
        with writing(self.engine) as conn:
            return self._delete(conn, conversations.c.owner == owner)

    def purge(self, older_than: timedelta) -> int:
        """Conversations untouched for longer than `older_than` (the `history_days` retention)."""
        with writing(self.engine) as conn:
            return self._delete(conn, conversations.c.updated < now() - older_than)

    @staticmethod
    def _delete(conn: Any, where: Any) -> int:
        return forget_conversations(conn, where)

    def rate(self, owner: str, turn: str, rating: str, comment: str = "",
             context: Mapping[str, Any] | None = None) -> bool:
        """The owner's verdict on one of their answers (again: replaced). False when the turn is
        not the owner's. `context`: what the answer depended on (settings, store generation)."""
        if rating not in RATINGS:
            raise AccountError(f"A rating is 'up' or 'down', not {rating!r}.")
        comment = comment.strip()[:MAX_COMMENT]
        with writing(self.engine) as conn:
            mine = conn.execute(select(turns.c.id).join(conversations, conversations.c.id == turns.c.conversation_id)
                                .where(turns.c.id == turn, conversations.c.owner == owner)).first()
            if mine is None:
                return False
            conn.execute(delete(feedback).where(feedback.c.turn_id == turn))
            conn.execute(feedback.insert().values(turn_id=turn, rating=rating, comment=comment,
                                                  context=json.dumps(dict(context or {})), created=now()))
        return True

    def rated(self, since: datetime | None = None, rating: str | None = None, limit: int = 1000) -> list[Rated]:
        """Every verdict, newest first (for admins and exports: owners included)."""
        query = (select(turns, feedback.c.rating, feedback.c.comment, feedback.c.context,
                        feedback.c.created.label("rated_at"), conversations.c.owner)
                 .join(feedback, feedback.c.turn_id == turns.c.id)
                 .join(conversations, conversations.c.id == turns.c.conversation_id))
        if since is not None:
            query = query.where(feedback.c.created >= since)
        if rating is not None:
            query = query.where(feedback.c.rating == rating)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(feedback.c.created.desc()).limit(limit)).all()
        return [Rated(_turn(r), r.owner, r.conversation_id, r.rating, r.comment, json.loads(r.context), r.rated_at)
                for r in rows]


def _turn(row: Any) -> SavedTurn:
    return SavedTurn(row.id, row.question, json.loads(row.answer), row.backend, json.loads(row.filters),
                     row.created, getattr(row, "rating", None), getattr(row, "comment", None) or "")

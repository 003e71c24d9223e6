"""What one request may touch: the caller's assistant, limited in the store to the collections the
caller may read, and the audit record of what it did. The API and the chat both go through here."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from assistant.accounts import AuditLog, Principal
from assistant.app.identity import principal_of
from assistant.app.pool import Pool
from assistant.app.uploads import MAIN
from assistant.service import Assistant

T = TypeVar("T")


@dataclass(frozen=True)
class Visit:
    """One request's caller and the address it came from."""

    principal: Principal
    address: str
    how: str = ""  # how the caller proved who it is (assistant.app.identity.Caller.how)

    @classmethod
    def of(cls, request: Any) -> Visit:
        client = getattr(request, "client", None)
        state = getattr(request, "state", None)
        return cls(principal_of(request), str(getattr(client, "host", "") or "unknown"),
                   str(getattr(state, "how", "") or ""))


class Access:
    """The pool seen by callers: each read limited to the caller's collections, each act audited."""

    def __init__(self, pool: Pool, audit: AuditLog) -> None:
        self.pool, self.audit = pool, audit

    def assistant(self, visit: Visit, llm: str | None = None) -> Assistant:
        return self.pool.get(llm).within(visit.principal.readable)

    def writable(self, visit: Visit) -> list[str]:
        """The collections the caller may add to: granted ones (every known one for an admin)."""
        p = visit.principal
        if p.write is None:
            known = {c.name for c in self.pool.default.collections()}
            return sorted(known | {MAIN})
        return sorted(p.write)

    def default_target(self, visit: Visit) -> str | None:
        """Where an upload goes unless the caller chooses: `main` where they may write it, else
        the first collection they may write (None: nowhere)."""
        writable = self.writable(visit)
        return MAIN if MAIN in writable else (writable[0] if writable else None)

    def feedback_context(self) -> dict[str, Any]:
        """What an answer depended on, kept with a verdict on it: the settings that change answers
        and the store's generation (evaluation exports say which archive it was about)."""
        s = self.pool.settings
        return {"retrieval": s.retrieval, "min_relevance": s.min_relevance, "top_k": s.top_k, "llm": s.llm,
                "generation": self.pool.default.store.generation}

    def record(self, visit: Visit, action: str, route: str, status: int | str = 200,
               collections: Iterable[str] = (), question: str | None = None) -> None:
        self.audit.record(action, user=visit.principal.name, address=visit.address, route=route, status=status,
                          collections=sorted(set(collections)), question=question)


class Remembered(Generic[T]):
    """A small per-session memory (a chat session's chosen upload collection), bounded: the
    oldest sessions are forgotten first."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, session: str | None, value: T | None) -> None:
        if not session:
            return
        with self._lock:
            self._items.pop(session, None)
            if value:
                self._items[session] = value
            while len(self._items) > self.LIMIT:
                self._items.popitem(last=False)

    def get(self, session: str | None) -> T | None:
        with self._lock:
            return self._items.get(session or "")


def cited(items: Sequence[Any]) -> list[str]:
    """The collections of what was shown (citations, passages)."""
    return sorted({str(getattr(c, "collection", "") or "") for c in items} - {""})

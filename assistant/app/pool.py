"""The assistants a server offers: one per answer backend, all sharing one store and model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from assistant.errors import AssistantError, ConfigError
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.types import ArchiveStatus, Facets

log = logging.getLogger(__name__)


@dataclass
class ServerStatus:
    """The archive's status and what this server offers on it (GET /api/status)."""

    archive: ArchiveStatus
    backends: list[str]
    facets: Facets

    def to_dict(self) -> dict[str, Any]:
        return {**self.archive.to_dict(), "backends": self.backends, **asdict(self.facets)}


class Pool:
    """`settings.llm` is the default; the other `llm_choices` are offered when they load.

    Safe for concurrent use: the embedder serialises its own calls, the retriever swaps its
    snapshot whole, and answerers hold no per-question state."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.default = assistant or Assistant(settings=settings)
        self.settings = self.default.settings
        self._by_name: dict[str, Assistant] = {self.settings.llm: self.default}
        self.unavailable: dict[str, str] = {}
        for name in self.settings.offered_llms()[1:]:
            try:
                self._by_name[name] = self.default.with_llm(name)
            except (AssistantError, ImportError) as e:  # offered only where it can load
                self.unavailable[name] = str(e)
                log.warning("answer backend %s is not offered: %s", name, e)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str | None = None) -> Assistant:
        if not name:
            return self.default
        found = self._by_name.get(name)
        if found is None:
            why = f" ({self.unavailable[name]})" if name in self.unavailable else ""
            raise ConfigError(f"The answer backend {name!r} is not offered here{why}. "
                              f"Offered: {', '.join(self.names)}.")
        return found

    def store_changed(self) -> None:
        """This process has just ingested: every assistant looks at the store on its next search."""
        for assistant in self._by_name.values():
            assistant.retriever.recheck()

    def facets(self, collections: Sequence[str] | None = None) -> Facets:
        """The sources and document types the archive holds (in `collections` only, when given:
        what a reader of those sees), for filters."""
        return self.default.within(collections).facets()

    def status(self, collections: Sequence[str] | None = None) -> ServerStatus:
        """What a reader of `collections` (None: everything) sees of the archive and this server."""
        seen = self.default.within(collections)
        return ServerStatus(seen.status(), self.names, seen.facets())

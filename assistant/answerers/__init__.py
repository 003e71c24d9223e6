"""Answer backends by name: one registry, lazy imports, a clear error for unknown names."""

from __future__ import annotations

from collections.abc import Callable

from assistant.answerers.base import Answerer
from assistant.embedding import Embedder
from assistant.errors import ConfigError
from assistant.settings import Settings

BACKENDS = ("extractive",)


def make_answerer(settings: Settings, embedder: Embedder, idf: Callable[[str], float]) -> Answerer:
    match settings.llm:
        case "extractive":
            from assistant.answerers.extractive import ExtractiveAnswerer

            return ExtractiveAnswerer(settings, embedder, idf)
        case other:
            raise ConfigError(f"Unknown answer backend {other!r}. Valid: {', '.join(BACKENDS)}.")


__all__ = ["Answerer", "BACKENDS", "make_answerer"]

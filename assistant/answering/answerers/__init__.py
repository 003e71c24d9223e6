"""Answer backends by name: one registry, lazy imports, a clear error for unknown names.

`extractive` quotes the passages (no LLM); every other name is an LLM backend
(assistant.answering.llms) wrapped in the GenerativeAnswerer, which checks its citations.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.answering.answerers.base import Answerer
from assistant.answering.llms import BACKENDS, ChatModel, make_llm
from assistant.index.embedding import Embedder
from assistant.index.sentence_store import SentenceStore
from assistant.index.sentence_vectors import SentenceVectors
from assistant.settings import Settings


def make_answerer(settings: Settings, embedder: Embedder, idf: Callable[[str], float],
                  llm: ChatModel | None = None, vectors: SentenceVectors | None = None) -> Answerer:
    """The answerer `settings.llm` names; `llm` replaces the named model (assistant.testing's
    ScriptedLLM, or a model the caller built). `vectors`: sentence vectors remembered across
    answerers on one embedder (a fresh memory where not given)."""
    llm = llm or make_llm(settings)  # raises ConfigError, listing BACKENDS, for unknown names
    if vectors is None:
        vectors = SentenceVectors(embedder, settings.sentence_cache_mb, SentenceStore.of(settings))
    if llm is None:
        from assistant.answering.answerers.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(settings, embedder, idf, vectors)
    from assistant.answering.answerers.generative import GenerativeAnswerer

    return GenerativeAnswerer(settings, embedder, idf, llm, vectors)


__all__ = ["Answerer", "BACKENDS", "make_answerer"]

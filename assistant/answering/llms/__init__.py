"""LLM backends by name: one registry, lazy imports with install hints, a clear error for unknown names."""

from __future__ import annotations

import os

from assistant.answering.llms.base import ChatModel, Message, complete
from assistant.errors import ConfigError
from assistant.settings import Settings

# `extractive` needs no LLM; the others generate. Keep in step with assistant.answering.answerers.
BACKENDS = ("extractive", "local", "openai", "ollama")


def api_key() -> str | None:
    """The key for hosted APIs: from the environment only, never from a settings file."""
    return os.environ.get("ASSISTANT_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


def make_llm(settings: Settings) -> ChatModel | None:
    """The chat model `settings.llm` names, or None for `extractive`."""
    match settings.llm:
        case "extractive":
            return None
        case "local":
            from assistant.answering.llms.local import LocalLLM

            return LocalLLM(settings)
        case "openai":
            from assistant.answering.llms.remote import openai_llm

            return openai_llm(settings, api_key())
        case "ollama":
            from assistant.answering.llms.remote import ollama_llm

            return ollama_llm(settings)
        case other:
            raise ConfigError(f"Unknown answer backend {other!r}. Valid: {', '.join(BACKENDS)}.")


__all__ = ["BACKENDS", "ChatModel", "Message", "api_key", "complete", "make_llm"]

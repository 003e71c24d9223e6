"""The `openai` and `ollama` backends: llama-index's LLM classes, always given their model.

`openai` speaks to any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, Ollama's
/v1, hosted APIs) through llama-index's OpenAILike; `ollama` uses Ollama's native /api/chat
through llama-index's Ollama class (no grammar there: replies are free). Both pass through
`LlamaIndexChat`, which turns a llama-index chat stream into text pieces and its failures into
LLMError.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from assistant.answering.llms.base import Message
from assistant.errors import ConfigError, LLMError
from assistant.settings import Settings

OPENAI_URL = "https://api.openai.com/v1"
OLLAMA_URL = "http://127.0.0.1:11434"


class LlamaIndexChat:
    """A llama-index LLM as a ChatModel; `stream_chat(chat, max_tokens)` calls it."""

    def __init__(self, name: str, model: str, context_window: int, url: str,
                 stream_chat: Callable[[list[Any], int, str | None], Iterator[Any]], grammar: bool = False) -> None:
        self.name, self.model, self.context_window, self.url = name, model, context_window, url
        self.grammar = grammar
        self._stream_chat = stream_chat

    def stream(self, messages: Sequence[Message], max_tokens: int, grammar: str | None = None) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for response in self._stream_chat(chat, max_tokens, grammar if self.grammar else None):
                if response.delta:
                    yield response.delta
        except LLMError:
            raise
        except Exception as e:  # connection refused, HTTP errors, bad replies: all say where
            raise LLMError(f"The {self.name} backend at {self.url} failed: {_reason(e)}") from e


def _reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


def _require(module: str, package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"This answer backend needs `pip install {package}`.")


def served_models(url: str, key: str | None, timeout: float) -> list[dict[str, Any]]:
    """The server's /models list (OpenAI format)."""
    request = urllib.request.Request(url.rstrip("/") + "/models",
                                     headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=min(timeout, 10)) as r:
            return [m for m in json.load(r).get("data", []) if isinstance(m, dict) and m.get("id")]
    except (OSError, ValueError, urllib.error.URLError) as e:
        raise LLMError(f"Cannot list the models at {url} ({_reason(e)}); check llm_url (--llm-url), "
                       "or set llm_model (--llm-model) and llm_grammar.") from None


def only_model(url: str, models: list[dict[str, Any]]) -> str:
    """The server's model when there is exactly one (a local llama.cpp or vLLM server)."""
    if len(models) != 1:
        raise ConfigError(f"The server at {url} serves {len(models)} models; choose one with llm_model "
                          f"(--llm-model): {', '.join(str(m['id']) for m in models[:10])}.")
    return str(models[0]["id"])


def openai_llm(settings: Settings, key: str | None) -> LlamaIndexChat:
    _require("llama_index.llms.openai_like", "llama-index-llms-openai-like")
    from llama_index.llms.openai_like import OpenAILike

    url = settings.llm_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
    if url == OPENAI_URL and not key:
        raise ConfigError("The openai backend needs an API key in ASSISTANT_LLM_API_KEY or OPENAI_API_KEY, "
                          "or --llm-url for a local OpenAI-compatible server.")
    models = served_models(url, key, settings.llm_timeout) \
        if not settings.llm_model or settings.llm_grammar == "auto" else []
    model = settings.llm_model or only_model(url, models)
    # llama.cpp's server takes a GBNF grammar in the request; other servers reject the field.
    grammar = settings.llm_grammar == "on" or (
        settings.llm_grammar == "auto" and any(m.get("owned_by") == "llamacpp" for m in models))
    # One client for every call; max_tokens is sent per call (None here: OpenAILike would let
    # a fixed value override the per-call one).
    llm = OpenAILike(model=model, api_base=url, api_key=key or "none", is_chat_model=True,
                     context_window=settings.llm_context_window, max_tokens=None,
                     temperature=settings.llm_temperature, timeout=settings.llm_timeout, max_retries=1)

    def stream_chat(chat: list[Any], max_tokens: int, grammar: str | None) -> Iterator[Any]:
        extra = {"extra_body": {"grammar": grammar}} if grammar else {}
        return llm.stream_chat(chat, max_tokens=max_tokens, **extra)

    return LlamaIndexChat("openai", model, settings.llm_context_window, url, stream_chat, grammar)


def ollama_llm(settings: Settings) -> LlamaIndexChat:
    _require("llama_index.llms.ollama", "llama-index-llms-ollama")
    from llama_index.llms.ollama import Ollama

    if not settings.llm_model:
        raise ConfigError("The ollama backend needs a model name: set llm_model (--llm-model), e.g. llama3.2.")
    url = settings.llm_url or os.environ.get("OLLAMA_HOST") or OLLAMA_URL
    if "://" not in url:
        url = "http://" + url
    base = Ollama(model=settings.llm_model, base_url=url, temperature=settings.llm_temperature,
                  context_window=settings.llm_context_window, request_timeout=settings.llm_timeout,
                  keep_alive="5m")

    def stream_chat(chat: list[Any], max_tokens: int, grammar: str | None) -> Iterator[Any]:
        # Ollama reads the reply's length limit from its options (num_predict), not from the call.
        llm = base.model_copy(update={"additional_kwargs": {"num_predict": max_tokens}})
        return llm.stream_chat(chat)

    return LlamaIndexChat("ollama", settings.llm_model, settings.llm_context_window, url, stream_chat)

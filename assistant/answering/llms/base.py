"""What every LLM backend does: stream a chat reply as text pieces (the one seam for generation)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class ChatModel(Protocol):
    name: str  # the backend's name in settings: local, openai, ollama, ...
    model: str  # the model it runs
    context_window: int  # tokens the model reads at once, prompt and reply together
    grammar: bool  # takes a GBNF grammar that the reply must follow (llama.cpp), and should get one

    def stream(self, messages: Sequence[Message], max_tokens: int, grammar: str | None = None) -> Iterator[str]:
        """The reply to a chat, in pieces as they are generated; raises LLMError on failure.
        `grammar` (GBNF) constrains the reply where `self.grammar`, and is ignored elsewhere."""
        ...


def complete(llm: ChatModel, messages: Sequence[Message], max_tokens: int) -> str:
    """The whole reply at once."""
    return "".join(llm.stream(messages, max_tokens))

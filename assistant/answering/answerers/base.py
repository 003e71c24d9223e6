"""What every answer backend does: turn a question and ranked passages into a cited Answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from assistant.answering.relevance import Hints
from assistant.types import Answer, Passage


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Answer:
        """An Answer whose [n] markers index its own `citations` (numbered from 1). `hints`:
        what the conversation and the question's wording tell the relevance scoring."""
        ...

    def stream(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Iterator[str | Answer]:
        """`answer`, streamed: text pieces as they are produced, then the Answer; joined, the
        pieces equal `Answer.text`."""
        ...


def pieces(text: str) -> list[str]:
    """A finished text in stream-sized pieces: one per cited sentence."""
    return re.findall(r"\S.*?(?:\](?: \([^()]*\))?\s*(?=\S)|$)", text, flags=re.S) or [text]

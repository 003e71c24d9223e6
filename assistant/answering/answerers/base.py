"""What every answer backend does: turn a question and ranked passages into a cited Answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from assistant.types import Answer, Passage


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        """An Answer whose [n] markers index its own `citations` (numbered from 1)."""
        ...

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str | Answer]:
        """`answer`, streamed: text pieces as they are produced, then the Answer; joined, the
        pieces equal `Answer.text`."""
        ...


def pieces(text: str) -> list[str]:
    """A finished text in stream-sized pieces: one per cited sentence."""
    return re.findall(r"\S.*?(?:\]\s*(?=\S)|$)", text, flags=re.S) or [text]

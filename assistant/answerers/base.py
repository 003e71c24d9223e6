"""What every answer backend does: turn a question and ranked passages into a cited Answer."""

from __future__ import annotations

from typing import Protocol

from assistant.types import Answer, Passage


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        """An Answer whose [n] markers index its own `citations` (numbered from 1)."""
        ...

"""What a retrieval configuration under evaluation returns: ranked hits, each passage under its
document's title. Ours (evals/retrieval.py) and LlamaIndex's default (evals/baseline.py) alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEPTH = 40  # passages fetched per question: enough to fill the largest budget


@dataclass
class Hit:
    text: str
    path: str
    doc_id: str
    page: int | None


Search = Callable[[str], list[Hit]]


def with_title(title: str, text: str) -> str:
    """A passage as an answerer reads it: under its document's title (our prompts show it, and
    LlamaIndex's default puts node metadata in the LLM's context too). Counted in the budget."""
    return f"{title}\n{text}" if title else text

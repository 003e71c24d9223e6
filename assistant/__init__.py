"""Report-archive assistant: answers questions from an archive, citing the passages it used.

    from assistant import Assistant
    a = Assistant(store="~/archive-store")
    answer = a.ask("Why did Cambodia reject the OHCHR report?")
    print(answer.text); [print(c.n, c.title, c.page) for c in answer.citations]

Importing this package imports neither Gradio nor Chroma; they load when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.errors import (
    AssistantError,
    ConfigError,
    NoStoreError,
    QuestionError,
    StoreBusyError,
    StoreError,
    StoreMismatchError,
)
from assistant.settings import Settings
from assistant.types import Answer, Citation, Passage

if TYPE_CHECKING:
    from assistant.service import Assistant

__all__ = ["Assistant", "Answer", "Citation", "Passage", "Settings", "AssistantError",
           "ConfigError", "QuestionError", "StoreError", "StoreMismatchError", "NoStoreError", "StoreBusyError"]


def __getattr__(name: str) -> Any:
    if name == "Assistant":  # lazy: keeps `import assistant` light for CLI start-up
        from assistant.service import Assistant

        return Assistant
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")

"""The one exception tree: every failure a user can cause is one of these.

AssistantError
 ├── ConfigError          bad settings, unknown backend name, missing extra
 ├── StoreError           the store is missing, damaged or unreachable
 │    ├── NoStoreError         nothing has been ingested there yet
 │    ├── StoreBusyError       another process is ingesting into it (or removing from it)
 │    ├── DamagedIndexError    a local store's vector index is cut short (repaired on open)
 │    └── StoreMismatchError   built with another embedding model or chunking
 ├── IngestError          one file could not be read (collected, never fatal)
 ├── QuestionError        an empty, oversized or otherwise unusable question
 └── LLMError             the answer backend (an LLM) failed or could not be reached
"""


class AssistantError(Exception):
    """Base class: the message is a sentence meant for the user."""


class ConfigError(AssistantError):
    pass


class StoreError(AssistantError):
    pass


class NoStoreError(StoreError):
    pass


class StoreBusyError(StoreError):
    pass


class StoreMismatchError(StoreError):
    pass


class DamagedIndexError(StoreError):
    """A local store's vector index (Chroma's HNSW files, derived from its database) is damaged,
    as a process killed while Chroma wrote them leaves it: `Store.open` repairs it
    (assistant/index/repair.py). `segments`: the damaged segment folders' names; None where
    Chroma failed without saying which."""

    def __init__(self, message: str, segments: list[str] | None = None) -> None:
        super().__init__(message)
        self.segments = segments


class IngestError(AssistantError):
    pass


class QuestionError(AssistantError):
    pass


class LLMError(AssistantError):
    """The answer backend failed or could not be reached."""

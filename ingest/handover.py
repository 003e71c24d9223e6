"""What the parsing thread hands the writer (ingest/writer.py): chunks to embed, then each
file's outcome, in the order the file was read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.index.meta import ChunkMeta
from ingest.report import FileResult


@dataclass
class Chunk:
    id: str
    text: str
    embed_text: str
    meta: ChunkMeta


@dataclass
class Batch:
    """Chunks of one file that are not stored yet, ready to embed."""

    key: str
    chunks: list[Chunk]


@dataclass
class Prepared:
    """A file whose chunks have all been handed over: what its manifest record will say (its
    archive collection too). `reused`: its chunks that were stored before this run, which may
    still be in another collection; `known`: it has a manifest record already."""

    key: str
    result: FileResult
    record: dict[str, Any]
    ids: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    known: bool = False


@dataclass
class Aborted:
    """A file that failed after some of its chunks were handed over: they must be undone."""

    result: FileResult

"""The manifest of ingested files: a second, tiny Chroma collection with one record per file.

A file's record holds its content hash and is written only after all of the file's chunks
are in, which is what makes re-runs free and interrupted runs resumable. Removal marks a
record (REMOVING, hash dropped) before its chunks go (see `Store.delete_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.settings import Settings

FILES = "files"  # the collection's name is the chunks collection's, plus "-files"
REMOVING = "removing"  # marks a manifest record whose file is being removed


def collection_name(settings: Settings) -> str:
    return f"{settings.collection}-{FILES}"


def records(files: Any) -> dict[str, dict[str, Any]]:
    """Every record, keyed by file, as stored (with those a killed removal left marked)."""
    got = files.get(include=["metadatas"])
    return {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"])}


def put(files: Any, key: str, record: dict[str, Any]) -> None:
    # Chroma merges an upsert's metadata into the record's; a None value deletes a field: the
    # mark of an unfinished removal goes, and so do the empty values Chroma cannot hold.
    clean = {k: v for k, v in record.items() if v is not None and v != ""}
    files.upsert(ids=[key], embeddings=[[1.0]], metadatas=[{**clean, REMOVING: None}])


def mark_removing(files: Any, keys: Sequence[str]) -> None:
    """Marked, hashes dropped: a file whose removal was cut short is never taken as unchanged."""
    files.upsert(ids=list(keys), embeddings=[[1.0]] * len(keys),
                 metadatas=[{REMOVING: True, "sha256": None}] * len(keys))


def drop(files: Any, keys: Sequence[str]) -> None:
    files.delete(ids=list(keys))

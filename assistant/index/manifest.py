"""The manifest of ingested files: a second, tiny Chroma collection with one record per file.

A file's record holds its content hash and is written only after all of the file's chunks
are in, which is what makes re-runs free and interrupted runs resumable. Removal marks a
record (REMOVING, hash dropped) before its chunks go (see `Store.delete_files`); a move to
another archive collection marks it (MOVING, with the target) before its chunks change, and
clears the mark after the last (`Store.move_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.index.meta import COLLECTION, MAIN
from assistant.settings import Settings

FILES = "files"  # the collection's name is the chunks collection's, plus "-files"
REMOVING = "removing"  # marks a manifest record whose file is being removed
MOVING = "moving"  # marks a record whose chunks are being moved to its (new) collection
# Every record's vector: the manifest is read by key, never searched, but Chroma needs one.
PLACEHOLDER = [1.0]
# Scanned pages of the file that no OCR engine has read yet: ingestion reads it again, unchanged,
# once one is installed. A record written without it drops it.
OCR_PENDING = "ocr_pending"


def collection_name(settings: Settings) -> str:
    return f"{settings.collection}-{FILES}"


def records(files: Any) -> dict[str, dict[str, Any]]:
    """Every record, keyed by file, as stored (with those a killed removal left marked)."""
    got = files.get(include=["metadatas"])
    return {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"])}


def collection_of(record: dict[str, Any] | None) -> str:
    """The archive collection a record puts its file in (records written before collections: main)."""
    return str((record or {}).get(COLLECTION) or MAIN)


def put(files: Any, key: str, record: dict[str, Any]) -> None:
    # Chroma merges an upsert's metadata into the record's; a None value deletes a field: the
    # marks of an unfinished removal or move go, and so do the empty values Chroma cannot hold.
    clean = {k: v for k, v in record.items() if v is not None and v != ""}
    files.upsert(ids=[key], embeddings=[PLACEHOLDER], metadatas=[{OCR_PENDING: None, **clean, REMOVING: None,
                                                            MOVING: None}])


def mark_moving(files: Any, keys: Sequence[str], collection: str) -> None:
    """The target first, marked: a move cut short is finished by the next move or ingestion, and
    a snapshot refresh re-reads the chunks of a marked file (assistant/index/snapshot.py)."""
    files.upsert(ids=list(keys), embeddings=[PLACEHOLDER] * len(keys),
                 metadatas=[{COLLECTION: collection, MOVING: True}] * len(keys))


def moved(files: Any, keys: Sequence[str]) -> None:
    files.upsert(ids=list(keys), embeddings=[PLACEHOLDER] * len(keys), metadatas=[{MOVING: None}] * len(keys))


def mark_removing(files: Any, keys: Sequence[str]) -> None:
    """Marked, hashes dropped: a file whose removal was cut short is never taken as unchanged."""
    files.upsert(ids=list(keys), embeddings=[PLACEHOLDER] * len(keys),
                 metadatas=[{REMOVING: True, "sha256": None}] * len(keys))


def drop(files: Any, keys: Sequence[str]) -> None:
    files.delete(ids=list(keys))


def reindex(files: Any, keys: Sequence[str]) -> None:
    """Records given their vector again, and nothing else (a repaired index: repair.py)."""
    files.upsert(ids=list(keys), embeddings=[PLACEHOLDER] * len(keys))

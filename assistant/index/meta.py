"""What each stored chunk says about itself: one definition of its Chroma metadata, written by
ingestion, read by the store, the snapshot and the passages the read path returns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assistant.errors import AssistantError, ConfigError

# Keys that Chroma `where` clauses name (everything else is read through ChunkMeta).
FILE = "file"
DATE_NUM = "date_num"
# The archive collection a chunk's file belongs to ("main", "drafts", ...): the unit of read
# permissions. Not to be confused with `Settings.collection`, the Chroma collection that holds
# every chunk. Main is stored as no key at all, as in stores written before collections existed.
COLLECTION = "collection"
MAIN = "main"
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Chunk texts go in this metadata field, not in Chroma's documents: a local Chroma puts every
# document into a trigram full-text index (which a collection schema cannot turn off there)
# that we never query, since keyword search is our own BM25; that index was half the cost of
# each write, 0.7 of 1.6 ms a chunk of CPU, taken from the encoder during ingestion. Stores
# written before keep their texts in documents, and are read either way.
TEXT = "text"


def embed_input(title: str | None, text: str) -> str:
    """What a chunk's vector encodes: its document's title, then its text."""
    return f"{title}\n{text}" if title else text


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """A chunk's metadata. `file` is the manifest key of the file it came from (`path` is the
    same today); `doc_id` names the document within it (a JSONL record, else the file);
    `date_num` is the date as YYYYMMDD for filters (0 for unknown parts); `doc_hash` is the
    start of the document's content hash; `page` is 1-based for paged formats; `chunk` is the
    chunk's position in its document; `collection` is the archive collection of its file;
    `ocr` says its page was a scan read by OCR, `ocr_confidence` the engine's mean word
    confidence on that page (0-1)."""

    file: str
    path: str
    doc_id: str
    title: str = ""
    date: str | None = None
    date_num: int | None = None
    source: str | None = None
    url: str | None = None
    kind: str = ""
    doc_hash: str = ""
    page: int | None = None
    chunk: int = 0
    collection: str = MAIN
    ocr: bool = False
    ocr_confidence: float | None = None

    def to_metadata(self) -> dict[str, Any]:
        """The dict Chroma stores (without the text): empty values left out, since Chroma
        metadata holds only str, int, float and bool. Keys and order as stores always had, and the
        collection, left out for main: a store that never uses collections is written as
        before, and every reader takes a missing collection as main. So are the OCR keys, left out
        for pages with a text layer."""
        pairs = ((FILE, self.file), ("path", self.path), ("doc_id", self.doc_id), ("title", self.title),
                 ("date", self.date), (DATE_NUM, self.date_num), ("source", self.source), ("url", self.url),
                 ("kind", self.kind), ("doc_hash", self.doc_hash), ("page", self.page), ("chunk", self.chunk),
                 (COLLECTION, None if self.collection == MAIN else self.collection),
                 ("ocr", True if self.ocr else None), ("ocr_confidence", self.ocr_confidence if self.ocr else None))
        return {k: v for k, v in pairs if v is not None and v != ""}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> ChunkMeta:
        """From what Chroma holds; missing or empty fields (older stores) get their defaults.
        The text field, if there, is ignored."""
        get = meta.get
        page, date_num, confidence = get("page"), get(DATE_NUM), get("ocr_confidence")
        return cls(str(get(FILE) or ""), str(get("path") or ""), str(get("doc_id") or ""),
                   str(get("title") or ""), get("date") or None,
                   int(date_num) if date_num is not None else None, get("source") or None, get("url") or None,
                   str(get("kind") or ""), str(get("doc_hash") or ""),
                   int(page) if page is not None else None, int(get("chunk") or 0),
                   str(get(COLLECTION) or MAIN), bool(get("ocr") or False),
                   float(confidence) if confidence is not None else None)


def check_collection(name: object, error: type[AssistantError] = ConfigError) -> str:
    """An archive collection's name, checked: 1 to 64 letters, digits, '-', '_' and '.'
    (it travels in CLI options, URLs and grants, so nothing that needs quoting)."""
    if not isinstance(name, str) or not _COLLECTION_NAME.fullmatch(name):
        raise error(f"Bad collection name {str(name)[:80]!r}: use 1 to 64 letters, digits, '-', '_' and '.'.")
    return name

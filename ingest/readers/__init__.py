"""Readers by file type: one registry, lazy imports, an install hint when a parser is missing.

A reader takes the file's path, its bytes and the limits (ingest/limits.py) that its parse
must keep: how far the file may inflate (a Word file's zip, a PDF's text), a PDF's pages, the
parse time. Text, HTML and e-mail are parsed in one pass over bytes within `max_file_mb`, with
nothing to inflate, and take the limits only to share the signature."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits


class Reader(Protocol):
    """`reader(path, data)` or `reader(path, data, limits)`: the documents in one file.
    Without limits, the settings' defaults apply, the parse clock starting at the call."""

    def __call__(self, path: Path, data: bytes, limits: Limits | None = None, /) -> list[Document]: ...

# suffix -> (module, function, PyPI package that provides the parser)
READERS: dict[str, tuple[str, str, str]] = {
    ".md": ("ingest.readers.text", "read_text", "pyyaml"),
    ".markdown": ("ingest.readers.text", "read_text", "pyyaml"),
    ".txt": ("ingest.readers.text", "read_text", "pyyaml"),
    ".html": ("ingest.readers.html", "read_html", "selectolax"),
    ".htm": ("ingest.readers.html", "read_html", "selectolax"),
    ".pdf": ("ingest.readers.pdf", "read_pdf", "pypdfium2"),
    ".jsonl": ("ingest.readers.jsonl", "read_jsonl", ""),
    ".docx": ("ingest.readers.docx", "read_docx", "python-docx"),
    ".eml": ("ingest.readers.email", "read_eml", ""),
}


def reader_for(path: Path) -> Reader | None:
    """The reader for this file's type, or None for types we do not read."""
    entry = READERS.get(path.suffix.lower())
    if entry is None:
        return None
    module, func, package = entry
    try:
        return getattr(importlib.import_module(module), func)
    except ImportError as e:
        raise IngestError(f"reading {path.suffix} files needs `pip install {package}` ({e})") from None

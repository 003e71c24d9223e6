"""Plain text and Markdown, with an optional leading `---` front-matter block."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    Binary content is refused rather than indexed as garbage."""
    if not data.strip():
        raise IngestError("empty file")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    if b"\0" in data[:8192]:
        raise IngestError("binary content, not text (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    # Mostly-unprintable text is binary in disguise.
    bad = sum(1 for c in text[:8192] if c == "\ufffd" or (ord(c) < 32 and c not in "\r\n\t\f"))
    if bad > len(text[:8192]) * 0.05:
        raise IngestError("binary content, not text")
    return text


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    return _parse_meta(m[1]), text[m.end():]


def _parse_meta(block: str) -> dict[str, Any]:
    import yaml

    try:
        meta = yaml.safe_load(block)
        if isinstance(meta, dict):
            return {str(k).lower(): v for k, v in meta.items()}
    except yaml.YAMLError:
        pass
    # Not valid YAML: fall back to plain `key: value` lines.
    out: dict[str, Any] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip().lower()] = value.strip().strip("\"'")
    return out


def _first_heading(body: str) -> str:
    for line in body.splitlines():
        s = line.strip()
        if s:
            return s.lstrip("#").strip()[:200]
    return ""


def read_text(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    meta, body = split_front_matter(decode(data))
    body = body.strip()
    if not body:
        raise IngestError("no text after the metadata block")
    title = str(meta.get("title") or "") or _first_heading(body) or path.stem
    return [Document(
        doc_id=str(path), pages=[(None, body)], title=title,
        date=_str(meta.get("date")), source=_str(meta.get("source") or meta.get("publisher")
                                                  or meta.get("issuer")),
        url=_str(meta.get("url")), kind=path.suffix.lstrip(".").lower() or "txt")]


def _str(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)

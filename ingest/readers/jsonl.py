"""JSON Lines: one record a line with `id`, `title`, `text` and optional `url`, `date`, `source`."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits
from ingest.readers.text import decode


def read_jsonl(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    limits = (limits or Limits.from_settings()).started()
    docs: list[Document] = []
    seen: set[str] = set()
    for n, line in enumerate(decode(data).splitlines(), 1):
        if not line.strip():
            continue
        if n % 1000 == 0:
            limits.check_time(f"at line {n:,}")
        # A feed of tiny records makes a chunk of each: 32 MB of them, two million chunks.
        limits.check_chunks(len(docs) + 1, records=True)
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise IngestError(f"line {n} is not valid JSON ({e.msg})") from None
        if not isinstance(rec, dict) or not str(rec.get("text") or "").strip():
            raise IngestError(f"line {n} has no `text` field")
        rid = str(rec.get("id") or f"line-{n}")
        if rid in seen:
            raise IngestError(f"line {n} repeats the id {rid!r}")
        seen.add(rid)
        docs.append(Document(
            doc_id=rid, pages=[(None, str(rec["text"]).strip())],
            title=str(rec.get("title") or rid),
            date=_opt(rec.get("date") or rec.get("published") or rec.get("retrieved")),
            source=_opt(rec.get("source") or rec.get("publisher")),
            url=_opt(rec.get("url")), kind="jsonl"))
    if not docs:
        raise IngestError("no records")
    return docs


def _opt(v: object) -> str | None:
    return None if v in (None, "") else str(v)

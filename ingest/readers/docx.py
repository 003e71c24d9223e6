"""Word documents (.docx): paragraphs and table cells, title and date from the core properties.

The zip is checked against the limits before python-docx opens it (ingest/readers/zipcheck.py).
python-docx parses XML with `resolve_entities=False` and lxml's default limits (no huge trees),
so entity expansion ("billion laughs") cannot inflate it further."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits
from ingest.readers.zipcheck import check_zip


def read_docx(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    import docx

    limits = (limits or Limits.from_settings()).started()
    try:
        check_zip(data, limits)
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise IngestError(f"not a valid .docx file ({e})") from None
    parts = []
    for i, p in enumerate(d.paragraphs):
        if i % 1000 == 0:
            limits.check_time(f"at paragraph {i + 1:,}")
        if text := p.text.strip():
            parts.append(text)
    for table in d.tables:
        limits.check_time("in a table")
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                parts.append(" | ".join(dict.fromkeys(cells)))
    if not parts:
        raise IngestError("the document has no text")
    props = d.core_properties
    date = props.created or props.modified
    return [Document(doc_id=str(path), pages=[(None, "\n\n".join(parts))],
                     title=props.title or parts[0][:200], date=date.isoformat() if date else None,
                     source=props.author or None, kind="docx")]

"""Word documents (.docx): paragraphs and tables in order, each table row with its headers
(ingest/tables.py); title and date from the core properties.

The zip is checked against the limits before python-docx opens it (ingest/readers/zipcheck.py).
python-docx parses XML with `resolve_entities=False` and lxml's default limits (no huge trees),
so entity expansion ("billion laughs") cannot inflate it further."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits
from ingest.readers.zipcheck import check_zip
from ingest.tables import Table, from_grid, join_blocks


def read_docx(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    import docx
    from docx.table import Table as DocxTable

    limits = (limits or Limits.from_settings()).started()
    try:
        check_zip(data, limits)
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise IngestError(f"not a valid .docx file ({e})") from None
    blocks: list[str | Table] = []
    for i, item in enumerate(d.iter_inner_content()):  # paragraphs and tables in document order
        if i % 1000 == 0 or isinstance(item, DocxTable):
            limits.check_time(f"at paragraph {i + 1:,}")
        if isinstance(item, DocxTable):
            blocks.append(_table(item))
        elif text := item.text.strip():
            blocks.append(text)
    text, spans = join_blocks(blocks)
    if not text:
        raise IngestError("the document has no text")
    props = d.core_properties
    date = props.created or props.modified
    first = next((b for b in blocks if isinstance(b, str) and b), text.split("\n", 1)[0])
    return [Document(doc_id=str(path), pages=[(None, text)],
                     title=props.title or first[:200], date=date.isoformat() if date else None,
                     source=props.author or None, kind="docx", tables={None: spans} if spans else {})]


def _table(table: Any) -> str | Table:
    """The table as rows with their headers: the rows marked to repeat as headers, else the first.
    A table of one row or one column is read as lines of text, as it is a layout, not data."""
    from docx.oxml.ns import qn
    grid = [[c.text.strip() for c in row.cells] for row in table.rows]
    grid = [r for r in grid if any(r)]
    if len(grid) < 2 or max(len(r) for r in grid) < 2:
        return "\n".join(" | ".join(dict.fromkeys(c for c in r if c)) for r in grid)
    marked = 0
    for row in table.rows:
        if not row._tr.trPr or row._tr.trPr.find(qn("w:tblHeader")) is None:
            break
        marked += 1
    return from_grid(grid, marked or 1)

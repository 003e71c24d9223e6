"""Word documents (.docx): paragraphs and table cells, title and date from the core properties."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document


def read_docx(path: Path, data: bytes) -> list[Document]:
    import docx

    try:
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise IngestError(f"not a valid .docx file ({e})") from None
    parts = [p.text.strip() for p in d.paragraphs if p.text.strip()]
    for table in d.tables:
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

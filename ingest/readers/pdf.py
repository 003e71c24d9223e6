"""PDF reports: text per page (1-based page numbers), with PDFium; empty-password encryption is fine."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document


def read_pdf(path: Path, data: bytes) -> list[Document]:
    import pypdfium2 as pdfium

    if not data.startswith(b"%PDF") and b"%PDF" not in data[:1024]:
        raise IngestError("not a PDF (no %PDF header)")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        reason = str(e).split(":")[-1].strip() or "unreadable"
        raise IngestError(f"corrupt or unreadable PDF ({reason})") from None
    try:
        pages: list[tuple[int | None, str]] = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n").strip()
            textpage.close()
            page.close()
            if text:
                pages.append((i + 1, text))
        meta = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    if not pages:
        raise IngestError("the PDF has no extractable text (scanned images?)")
    return [Document(doc_id=str(path), pages=pages, title=meta.get("Title") or path.stem,
                     date=meta.get("CreationDate"), source=meta.get("Author"), kind="pdf")]

"""E-mail messages (.eml): subject as title, Date, From as source, the plain-text body."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits


def read_eml(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    if not data.strip():
        raise IngestError("empty file")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not (msg["From"] or msg["Subject"] or msg["Date"]):
        raise IngestError("not an e-mail message (no From, Subject or Date header)")
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        raise IngestError("the message has no text body")
    body = part.get_content()
    if part.get_content_type() == "text/html":
        from selectolax.lexbor import LexborHTMLParser

        body = LexborHTMLParser(body).text(separator="\n")
    body = body.strip()
    if not body:
        raise IngestError("the message body is empty")
    date = None
    if msg["Date"]:
        try:
            date = parsedate_to_datetime(str(msg["Date"])).date().isoformat()
        except (TypeError, ValueError):
            date = str(msg["Date"])
    return [Document(doc_id=str(path), pages=[(None, body)], title=str(msg["Subject"] or path.stem),
                     date=date, source=str(msg["From"]) if msg["From"] else None, kind="eml")]

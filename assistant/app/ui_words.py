"""The words the chat uses for its internals, so that staff read "Web page", not "html", and
"Quoted from the sources", not a backend's name; and the example questions an archive offers."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from assistant.errors import QuestionError
from assistant.settings import Settings
from assistant.types import Citation, Passage

log = logging.getLogger(__name__)

# The document types ingestion records (ingest/readers: the file's suffix, or the reader's kind).
KINDS = {"md": "Markdown", "markdown": "Markdown", "txt": "Text", "html": "Web page", "htm": "Web page",
         "pdf": "PDF", "docx": "Word", "eml": "E-mail", "jsonl": "JSON records"}
EXAMPLES_FILE = "example-questions.txt"
MAX_EXAMPLES = 8
_EXAMPLES_BYTES = 64 * 1024  # far more than 8 questions need; a wrong path to a big file costs nothing


def kind_word(kind: str) -> str:
    return KINDS.get(kind.lower(), kind.upper() or "Other")


def kind_choices(kinds: Iterable[str]) -> list[tuple[str, str]]:
    """(word, kind) pairs for the type filter: staff see the word, the search gets the kind."""
    return sorted(((kind_word(k), k) for k in kinds), key=lambda c: (c[0].lower(), c[1]))


def answered_by(backend: str, model: str | None = None) -> str:
    """How an answer was made, in words: quoted (the extractive backend) or written by a model."""
    if not backend:
        return ""
    if backend == "extractive":
        return "Quoted from the sources"
    return f"Written by {model or 'an AI model'} from the sources"


def backend_label(backend: str, model: str | None = None) -> str:
    """The "Answers from" choice for a backend."""
    return "Quotes from the sources" if backend == "extractive" else f"AI model: {model or backend}"


def example_questions(settings: Settings) -> list[str]:
    """The archive's own example questions: `settings.example_questions`, else the file
    beside the store's data (`<store>/example-questions.txt`; a Chroma server's store has no
    folder, so only the setting). One a line, `#` comments and blank lines ignored, each checked
    like a question, at most MAX_EXAMPLES. None when there is no file."""
    from assistant.answering.query import check_question

    path = settings.example_questions or (None if settings.chroma_url else Path(settings.store) / EXAMPLES_FILE)
    if path is None or (not settings.example_questions and not path.is_file()):
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            data = f.read(_EXAMPLES_BYTES)
    except OSError as e:
        log.warning("no example questions: %s", e)
        return []
    lines = data.splitlines()
    if len(data) == _EXAMPLES_BYTES:
        lines = lines[:-1]  # cut mid-line
    found: list[str] = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            question = check_question(line)
        except QuestionError as e:
            log.warning("example question left out (%s): %.80s", e, line)
            continue
        if question not in found:
            found.append(question)
        if len(found) == MAX_EXAMPLES:
            break
    return found


def ocr_note(source: Citation | Passage) -> str:
    """ "read by OCR" for a scanned page's passage (a citation or passage; its words may be
    misread), with the engine's confidence where it gave one; "" for a document's own text."""
    if not source.ocr:
        return ""
    confidence = source.ocr_confidence
    return "read by OCR" + (f" ({confidence:.0%} confidence)" if confidence is not None else "")

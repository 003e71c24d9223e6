"""A stored document's text put back together from its passages (consecutive chunks share whole
sentences, which are dropped once), and a window of it: around a passage, or one PDF page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.errors import QuestionError
from assistant.index.text import sentences
from assistant.types import Passage

_TAIL = 8000  # how far back from the end the carried sentences can start


@dataclass
class StoredDocument:
    """One document of an ingested file (a JSONL file holds many), as the store has its text."""

    path: str
    doc_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    collection: str
    pages: list[int] = field(default_factory=list)  # the PDF pages that hold text, 1-based
    passages: list[Passage] = field(default_factory=list)

    def text(self, page: int | None = None) -> str:
        """The whole text, or one page's; pages apart by a blank line."""
        if page is not None:
            return merged([p.text for p in self.passages if p.page == page])
        if not self.pages:
            return merged([p.text for p in self.passages])
        return "\n\n".join(merged([p.text for p in self.passages if p.page == n]) for n in self.pages)


def documents(passages: list[Passage]) -> list[StoredDocument]:
    """The file's documents from its passages (as `Assistant.passages_of` orders them)."""
    out: dict[str, StoredDocument] = {}
    for p in passages:
        doc = out.get(p.doc_id)
        if doc is None:
            doc = out[p.doc_id] = StoredDocument(p.path, p.doc_id, p.title, p.date, p.source, p.url, p.collection)
        doc.passages.append(p)
        if p.page is not None and p.page not in doc.pages:
            doc.pages.append(p.page)
    for doc in out.values():
        doc.pages.sort()
    return list(out.values())


def merged(texts: list[str]) -> str:
    """Consecutive chunks of one page as one text: each chunk's start that repeats the end of
    the text before it (the sentences chunking carried over) is kept once."""
    out = ""
    for text in texts:
        if not out:
            out = text
            continue
        cut = _overlap(out, text)
        out += text[cut:] if cut else " " + text
    return out


def _overlap(before: str, text: str) -> int:
    """How many of `text`'s first characters are the end of `before`, starting there at a word
    (0: none); the longest such overlap, as carried sentences are whole."""
    if not text:
        return 0
    at = before.find(text[0], max(0, len(before) - _TAIL))
    while at >= 0:
        if (at == 0 or before[at - 1].isspace()) and text.startswith(before[at:]):
            return len(before) - at
        at = before.find(text[0], at + 1)
    return 0


@dataclass
class Window:
    """A stretch of a text: [start, end) of `length` characters."""

    text: str
    start: int
    end: int
    length: int


def window(text: str, limit: int, around: str | None = None) -> Window:
    """At most `limit` characters of `text`: from its start, or centred on `around` (a passage
    or a sentence of it, matched with any whitespace). QuestionError when `around` is not there."""
    if not around:
        return _cut(text, 0, min(len(text), limit))
    found = find(text, around)
    if found is None:
        raise QuestionError("The passage given in `around` is not in that document; copy a sentence of a "
                            "citation's or search result's text, or ask for a page.")
    start, end = found
    if end - start >= limit:
        return _cut(text, start, start + limit)
    spare = (limit - (end - start)) // 2
    lo = max(0, start - spare)
    hi = min(len(text), lo + limit)
    lo = max(0, hi - limit)
    return _cut(text, lo, hi)


def find(text: str, passage: str) -> tuple[int, int] | None:
    """Where the passage (else its longest sentence found) stands in the text, whitespace aside."""
    flat, where = _flatten(text)
    wanted = [" ".join(passage.split())]
    wanted += sorted((" ".join(s.split()) for s in sentences(passage)), key=len, reverse=True)
    for w in wanted:
        if len(w) < 12:  # a word or two would match anywhere
            continue
        at = flat.find(w)
        if at >= 0:
            return where[at], where[at + len(w) - 1] + 1
    return None


def _flatten(text: str) -> tuple[str, list[int]]:
    """The text with each run of whitespace as one space, and each character's place in the original."""
    chars: list[str] = []
    where: list[int] = []
    for m in re.finditer(r"\S+|\s+", text):
        if m.group().isspace():
            if chars:
                chars.append(" ")
                where.append(m.start())
        else:
            chars.extend(m.group())
            where.extend(range(m.start(), m.end()))
    return "".join(chars), where


def _cut(text: str, start: int, end: int) -> Window:
    """Cut at whitespace where one is near, so that no word is halved."""
    if start > 0:
        space = text.find(" ", start, start + 40)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(start, end - 40), end)
        end = space if space > start else end
    return Window(text[start:end], start, end, len(text))

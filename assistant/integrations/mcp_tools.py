"""The MCP tools' work, without the protocol: each takes the caller (an `Assistant` already limited
to the collections they may read) and returns one of the dataclasses below, or raises an
`AssistantError` whose message the model is shown. `mcp_server` binds them to MCP."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from assistant.errors import QuestionError
from assistant.integrations.documents import StoredDocument, documents, find, window
from assistant.service import Assistant
from assistant.types import Citation, CollectionStatus, Passage

Recorder = Callable[[str, Sequence[str], str | None, int], None]


@dataclass(frozen=True)
class Caller:
    """Who calls: their assistant (limited to what they may read), their name and role, and
    where what they did is recorded: (action, the collections shown, the question, status)."""

    assistant: Assistant
    user: str = "local"
    role: str = "admin"
    record: Recorder = lambda action, collections, question, status: None


# -- the arguments, as a model sees them (descriptions go into each tool's input schema) --------
Names = str | list[str] | None
Query = Annotated[str, Field(description="What to look for, in words (a question or key terms).", max_length=2000)]
Question = Annotated[str, Field(description="The question, in full sentences.", max_length=2000)]
K = Annotated[int, Field(description="How many passages to return (1-50).", ge=1, le=50)]
Since = Annotated[str | None, Field(description="Only documents dated on or after: YYYY, YYYY-MM or YYYY-MM-DD.")]
Until = Annotated[str | None, Field(description="Only documents dated on or before: YYYY, YYYY-MM or YYYY-MM-DD "
                                                "(a year or month covers all of it).")]
Source = Annotated[Names, Field(description="Only documents from this source or publisher (one name or a list).")]
Collection = Annotated[Names, Field(description="Only these archive collections (one name or a list; "
                                                "archive_status lists those you may read).")]
Path = Annotated[str, Field(description="The document's path, as a citation or search result gives it.",
                            min_length=1, max_length=4096)]
Page = Annotated[int | None, Field(description="A PDF page to read in full (1-based).", ge=1)]
Around = Annotated[str | None, Field(description="A passage or sentence of the document (copied from a citation or "
                                                 "search result): the text around it is returned.", max_length=4000)]
Chars = Annotated[int, Field(description="At most this many characters of text (200-20000).", ge=200, le=20000)]


@dataclass
class Turn:
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str


History = Annotated[list[Turn] | None, Field(description="Earlier turns, oldest first, for a follow-up question "
                                                         "(what 'it' or 'that' refers to).", max_length=40)]


# -- what the tools return ----------------------------------------------------------------------
@dataclass(kw_only=True)
class Origin:
    """Where a passage is from, and its text."""

    title: str
    date: str | None
    source: str | None
    page: int | None
    path: str
    url: str | None
    collection: str
    text: str


@dataclass(kw_only=True)
class Found(Origin):
    """A passage that matched, best first."""

    rank: int
    score: float


@dataclass
class SearchResults:
    query: str
    passages: list[Found]


@dataclass(kw_only=True)
class Cited(Origin):
    """A passage an answer cites as [n]; `supporting`: its sentences that back the answer."""

    n: int
    supporting: list[str] = field(default_factory=list)


@dataclass
class Reply:
    """An answer whose [n] markers point at `citations`; when `refused`, the archive does not hold
    the answer, and `related` lists the closest passages (no claim rests on them)."""

    question: str
    answer: str
    refused: bool
    grounded: bool
    standalone_question: str | None
    citations: list[Cited]
    related: list[Cited]


@dataclass
class DocumentText:
    """Part of a document: `text` is characters [start, end) of its `length` (of that page, when a
    page was asked for); `pages`: the PDF pages that hold text."""

    path: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    collection: str
    page: int | None
    pages: list[int]
    start: int
    end: int
    length: int
    text: str


@dataclass
class Status:
    """What the caller may read, and what answers."""

    user: str
    role: str
    store: str
    files: int
    documents: int
    chunks: int
    collections: list[CollectionStatus]
    embed_model: str
    answer_backend: str
    last_ingested: str | None


# -- the tools ----------------------------------------------------------------------------------
SEARCH = ("Search the report archive: the passages that best match the query, best first, each with its title, "
          "date, source, page, path and text. Use it to find documents or facts; use ask_archive for a cited "
          "answer, and read_document with a result's path to read more around it.")
ASK = ("Answer a question from the report archive only, with numbered citations: each [n] in the answer is the "
       "citation with that n (title, date, source, page, path, and the sentences that support it). When the "
       "archive does not hold the answer, refused is true and the answer says so: do not answer from elsewhere "
       "then. Pass history for a follow-up question.")
READ = ("Read a document of the report archive: the text around a passage (`around`: a sentence copied from a "
        "citation or search result), or one page of a PDF (`page`), or else its beginning. `path` comes from a "
        "citation or search result.")
STATUS = ("What the report archive holds that you may read: files, documents, chunks, each collection, the "
          "embedding model, the answer backend and where the store is.")


def search_archive(caller: Caller, query: str, k: int = 10, since: str | None = None, until: str | None = None,
                   source: Names = None, collection: Names = None) -> SearchResults:
    check_collections(caller.assistant, collection)
    passages = caller.assistant.search(query, k, since=since, until=until, source=source, collection=collection)
    caller.record("search", [p.collection for p in passages], query, 200)
    return SearchResults(query, [_found(r, p) for r, p in enumerate(passages, 1)])


def ask_archive(caller: Caller, question: str, history: list[Turn] | None = None, since: str | None = None,
                until: str | None = None, source: Names = None, collection: Names = None) -> Reply:
    check_collections(caller.assistant, collection)
    turns = [{"role": t.role, "content": t.content} for t in history or []]
    answer = caller.assistant.ask(question, turns, since=since, until=until, source=source, collection=collection)
    caller.record("ask", [c.collection for c in answer.citations], question, 200)
    return Reply(answer.question, answer.text, answer.refused, answer.grounded, answer.standalone_question,
                 [_cited(c) for c in answer.citations], [_cited(c) for c in answer.related])


def read_document(caller: Caller, path: str, page: int | None = None, around: str | None = None,
                  chars: int = 6000) -> DocumentText:
    docs = documents(caller.assistant.passages_of(path))
    if not docs:  # not in the archive, or not in the caller's collections: the same answer
        caller.record("file-read", [], None, 404)
        raise QuestionError(f"The archive holds no document at {path!r} that you may read; use a path from "
                            "search_archive or from a citation.")
    doc = _choose(docs, page, around)
    if page is not None and page not in doc.pages:
        have = f"pages with text: {_ranges(doc.pages)}" if doc.pages else "it has no pages (it is not a PDF)"
        raise QuestionError(f"Page {page} of {path!r} holds no text in the archive; {have}.")
    part = window(doc.text(page), chars, around)
    caller.record("file-read", [doc.collection], None, 200)
    return DocumentText(doc.path, doc.title, doc.date, doc.source, doc.url, doc.collection, page, doc.pages,
                        part.start, part.end, part.length, part.text)


def archive_status(caller: Caller) -> Status:
    s = caller.assistant.status()
    when = datetime.fromtimestamp(s.last_ingested).isoformat(" ", "seconds") if s.last_ingested else None
    return Status(caller.user, caller.role, s.store, s.files, s.documents, s.chunks, s.collections, s.embed_model,
                  s.llm, when)


def check_collections(assistant: Assistant, names: Names) -> None:
    """Each collection named must be one the caller may read; one they may not read gets the same
    answer as one that does not exist."""
    asked = [n.strip() for n in ([names] if isinstance(names, str) else names or []) if n and n.strip()]
    if not asked:
        return
    readable = sorted(c.name for c in assistant.collections())
    unknown = [n for n in asked if n not in readable]
    if unknown:
        raise QuestionError(f"No collection named {unknown[0][:80]!r} that you may read. Your collections: "
                            f"{', '.join(readable) or 'none'}.")


def _choose(docs: list[StoredDocument], page: int | None, around: str | None) -> StoredDocument:
    """The document meant: the one holding the passage (a JSONL file holds many), else the first."""
    if around and len(docs) > 1:
        for doc in docs:
            if find(doc.text(page if page in doc.pages else None), around) is not None:
                return doc
    return docs[0]


def _ranges(pages: list[int]) -> str:
    runs: list[list[int]] = []
    for p in pages:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _found(rank: int, p: Passage) -> Found:
    return Found(rank=rank, score=round(p.score, 4), **_origin(p))


def _cited(c: Citation) -> Cited:
    return Cited(n=c.n, supporting=list(c.supporting), **_origin(c))


def _origin(p: Passage | Citation) -> dict[str, Any]:
    return {"title": p.title, "date": p.date, "source": p.source, "page": p.page, "path": p.path, "url": p.url,
            "collection": p.collection, "text": p.text}

"""The dataclasses that cross the public boundary (framework types stay inside)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.index.meta import ChunkMeta


@dataclass
class Passage:
    """A retrieved chunk of a document, with where it came from."""

    id: str
    text: str
    doc_id: str
    path: str
    title: str = ""
    date: str | None = None
    source: str | None = None
    url: str | None = None
    page: int | None = None
    score: float = 0.0
    chunk: int = 0  # position of the chunk within its document
    collection: str = "main"  # the archive collection its file belongs to
    ocr: bool = False  # its page was a scan, read by OCR (so its text may hold misreadings)
    ocr_confidence: float | None = None  # the OCR engine's mean word confidence on that page, 0-1

    @classmethod
    def from_metadata(cls, id: str, text: str, meta: ChunkMeta, score: float = 0.0) -> Passage:
        return cls(id=id, text=text, doc_id=meta.doc_id, path=meta.path, title=meta.title, date=meta.date,
                   source=meta.source, url=meta.url, page=meta.page if meta.page and meta.page > 0 else None,
                   score=score, chunk=meta.chunk, collection=meta.collection, ocr=meta.ocr,
                   ocr_confidence=meta.ocr_confidence)


@dataclass
class Citation:
    """A numbered passage an answer rests on; `n` matches the [n] markers in the text."""

    n: int
    doc_id: str
    path: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    page: int | None = None

    # Sentences of `text` that support the answer's claims citing [n] (for highlighting).
    supporting: list[str] = field(default_factory=list)
    collection: str = "main"  # the archive collection of the cited file
    ocr: bool = False  # the cited page was a scan read by OCR (for a "read by OCR" label)
    ocr_confidence: float | None = None  # the OCR engine's mean word confidence on it, 0-1

    @classmethod
    def from_passage(cls, n: int, p: Passage) -> Citation:
        return cls(n=n, doc_id=p.doc_id, path=p.path, title=p.title, text=p.text,
                   date=p.date, source=p.source, url=p.url, page=p.page, collection=p.collection,
                   ocr=p.ocr, ocr_confidence=p.ocr_confidence)

    def to_dict(self, collection: bool = False) -> dict[str, Any]:
        # The JSON contract (`assistant ask --json`, /api/ask) is pinned by tests/test_cli.py;
        # the collection and the OCR fields join it when that pin does. Saved conversations keep
        # the collection, and the OCR fields of a page read by OCR (`collection`).
        out = asdict(self)
        for key in ("collection",) * (not collection) + ("ocr", "ocr_confidence") * (not (collection and self.ocr)):
            del out[key]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        """Back from `to_dict`; fields a saved copy lacks (older versions) are left empty."""
        known = {f.name for f in fields(cls)}
        base: dict[str, Any] = {"n": 0, "doc_id": "", "path": "", "title": "", "text": ""}
        return cls(**{**base, **{k: v for k, v in data.items() if k in known}})


@dataclass
class Claim:
    """One sentence of an answer, the passages it cites, and whether they support it."""

    text: str  # the sentence without its [n] markers
    cites: list[int] = field(default_factory=list)  # the n of each valid citation
    support: float = 0.0  # 0-1: how well the cited passages support it
    supported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Claim:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Answer:
    """An answer: its text with [n] markers, the citations they point to, and whether it refused.

    `claims` checks the text sentence by sentence; `grounded` is True when every claim cites a
    passage that supports it (a refusal is not grounded: it makes no claim)."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    standalone_question: str | None = None
    claims: list[Claim] = field(default_factory=list)
    backend: str = ""
    # A refusal's closest passages, for a reader to look at: no claim rests on them.
    related: list[Citation] = field(default_factory=list)
    # The sentence, also at the end of `text`, saying how old the sources are, when they are old.
    age_note: str | None = None

    @property
    def grounded(self) -> bool:
        return bool(self.claims) and not self.refused and all(c.supported for c in self.claims)

    def to_dict(self, collections: bool = False) -> dict[str, Any]:
        """The JSON of `assistant ask --json`; `collections`: with each citation's collection (as
        saved conversations keep it, so a shared one can withhold what a viewer may not read)."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "grounded": self.grounded,
            "standalone_question": self.standalone_question,
            "backend": self.backend,
            "citations": [c.to_dict(collections) for c in self.citations],
            "claims": [c.to_dict() for c in self.claims],
            "related": [c.to_dict(collections) for c in self.related],
            "age_note": self.age_note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """Back from `to_dict` (a saved conversation's turn); `grounded` follows from the claims."""
        return cls(question=str(data.get("question", "")), text=str(data.get("answer", "")),
                   citations=[Citation.from_dict(c) for c in data.get("citations", [])],
                   refused=bool(data.get("refused")), standalone_question=data.get("standalone_question"),
                   claims=[Claim.from_dict(c) for c in data.get("claims", [])], backend=str(data.get("backend", "")),
                   related=[Citation.from_dict(c) for c in data.get("related", [])], age_note=data.get("age_note"))


def search_results(passages: list[Passage]) -> dict[str, Any]:
    """Ranked passages as `assistant search --json` prints them (and POST /api/search returns)."""
    return {"results": [{"rank": r, "score": p.score, "doc_id": p.doc_id, "path": p.path, "title": p.title,
                         "page": p.page, "text": p.text} for r, p in enumerate(passages, 1)]}


@dataclass
class CollectionStatus:
    """One archive collection (a named group of files, the unit of read permissions) and what
    it holds (`Assistant.collections()`, `assistant status`)."""

    name: str
    files: int
    documents: int
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Facets:
    """The sources and document types an archive holds, as a reader sees it: the choices of the
    chat's filters (`Assistant.facets()`)."""

    sources: list[str]
    kinds: list[str]


@dataclass
class ArchiveStatus:
    """What an archive holds (`Assistant.status()`, `assistant status`), as far as its reader may
    read; `to_dict` is its JSON."""

    store: str  # the store folder, or the Chroma server's URL
    files: int
    documents: int
    chunks: int
    last_ingested: float | None  # Unix time of the latest ingestion; None: never
    embed_model: str
    llm: str
    writing: dict[str, Any] | None  # who holds the write lock now ({"pid", "purpose", "since"}), or None
    half_removed: list[str] = field(default_factory=list)  # files a stopped removal left behind
    collections: list[CollectionStatus] = field(default_factory=list)  # each readable one, by name
    # Chunks whose sentences ingestion encoded ahead for answers (sentence_store.py), and the
    # bytes they take; None for a reader limited to some collections (the count is store-wide).
    sentence_chunks: int | None = None
    sentence_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ArchiveFile:
    """One ingested file (`Assistant.files()`, `assistant status --files`)."""

    path: str
    kind: str
    documents: int
    chunks: int
    bytes: int
    ingested: str | None  # local time, ISO: "2024-05-01 12:00:00"
    collection: str = "main"  # the archive collection it belongs to

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AnswerStream:
    """An answer as it is produced (what `Assistant.stream` returns): iterate it for the text in
    pieces (str; joined, they equal `answer.text`), then read `.answer`. Read before the pieces
    are all iterated, `.answer` runs the rest first; those pieces are then in `answer.text` only."""

    def __init__(self, items: Iterable[str | Answer]) -> None:
        self._items = iter(items)
        self._ahead: str | None = None  # a piece `start` took, not yet iterated
        self._answer: Answer | None = None

    def start(self) -> AnswerStream:
        """Run to the first piece, so that what fails before any text is produced (an LLM that
        cannot be reached, say) raises here rather than in the middle of iteration."""
        if self._ahead is None and self._answer is None:
            self._ahead = next(self, None)
        return self

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._ahead is not None:
            piece, self._ahead = self._ahead, None
            return piece
        for item in self._items:
            if isinstance(item, Answer):
                self._answer = item
            else:
                return item
        raise StopIteration

    @property
    def reached(self) -> Answer | None:
        """The Answer if iteration has come to it; None before (nothing more is run)."""
        return self._answer

    @property
    def answer(self) -> Answer:
        """The complete Answer, once the stream has ended (running it to the end if need be)."""
        for _ in self:
            pass
        if self._answer is None:
            raise RuntimeError("The answer stream ended without an Answer.")
        return self._answer

"""The dataclasses that cross the public boundary (framework types stay inside)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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

    @classmethod
    def from_metadata(cls, id: str, text: str, meta: dict[str, Any], score: float = 0.0) -> Passage:
        page = meta.get("page")
        return cls(
            id=id,
            text=text,
            doc_id=str(meta.get("doc_id", "")),
            path=str(meta.get("path", "")),
            title=str(meta.get("title") or ""),
            date=meta.get("date") or None,
            source=meta.get("source") or None,
            url=meta.get("url") or None,
            page=int(page) if isinstance(page, int) and page > 0 else None,
            score=score,
            chunk=int(meta.get("chunk", 0) or 0),
        )


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

    @classmethod
    def from_passage(cls, n: int, p: Passage) -> Citation:
        return cls(n=n, doc_id=p.doc_id, path=p.path, title=p.title, text=p.text,
                   date=p.date, source=p.source, url=p.url, page=p.page)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Claim:
    """One sentence of an answer, the passages it cites, and whether they support it."""

    text: str  # the sentence without its [n] markers
    cites: list[int] = field(default_factory=list)  # the n of each valid citation
    support: float = 0.0  # 0-1: how well the cited passages support it
    supported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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

    @property
    def grounded(self) -> bool:
        return bool(self.claims) and not self.refused and all(c.supported for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "grounded": self.grounded,
            "standalone_question": self.standalone_question,
            "backend": self.backend,
            "citations": [c.to_dict() for c in self.citations],
            "claims": [c.to_dict() for c in self.claims],
            "related": [c.to_dict() for c in self.related],
        }


def search_results(passages: list[Passage]) -> dict[str, Any]:
    """Ranked passages as `assistant search --json` prints them (and POST /api/search returns)."""
    return {"results": [{"rank": r, "score": p.score, "doc_id": p.doc_id, "path": p.path, "title": p.title,
                         "page": p.page, "text": p.text} for r, p in enumerate(passages, 1)]}

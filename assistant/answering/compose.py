"""Putting answers together: one source per document, and a question of several parts
("in 2020 and in 2023") answered part by part under short labels, every part cited, a part the
archive lacks saying so while the others stand."""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.answering.retrieve import join_chunks
from assistant.types import Answer, Citation, Claim, Passage

_MARKER = re.compile(r"\[(\d{1,3})\]")


def one_per_document(passages: list[Passage], window: int = 0) -> list[Passage]:
    """The passages with those of one document (and page) joined into one, at the place of its
    best, in reading order; chunks that do not touch are set apart by "…", so that the joined
    text never reads as if it ran on."""
    groups: dict[tuple[str, str, int | None], list[Passage]] = {}
    for p in passages:
        groups.setdefault((p.path, p.doc_id, p.page), []).append(p)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        ordered = sorted(group, key=lambda p: p.chunk)
        text = ordered[0].text
        for before, p in zip(ordered, ordered[1:]):
            touching = p.chunk - before.chunk <= 2 * window + 1
            text = join_chunks([text, p.text]) if touching else f"{text}\n\n…\n\n{p.text}"
        out.append(replace(group[0], text=text, score=max(p.score for p in group)))
    return out


def combine(question: str, labelled: list[tuple[str, Answer]], refusal: str, backend: str) -> Answer:
    """One Answer from the parts' answers: each part's text under its label, its [n] renumbered
    into one list of citations (a document cited by two parts keeps one number). Refused as a
    whole only when every part is; the refused parts' closest passages are kept as related."""
    citations: list[Citation] = []
    related: list[Citation] = []
    claims: list[Claim] = []
    blocks = []
    for label, answer in labelled:
        if answer.refused:
            blocks.append(f"**{label}**: {_part_refusal(refusal)}")
            for r in answer.related:
                if not any(_same(r, o) for o in related):
                    related.append(replace(r, n=len(related) + 1))
            continue
        numbers = {c.n: _number(c, citations) for c in answer.citations}
        blocks.append(f"**{label}**: " + _renumber(answer.text, numbers))
        claims += [replace(c, cites=[numbers.get(n, n) for n in c.cites]) for c in answer.claims]
    refused = not citations
    text = refusal if refused else "\n\n".join(blocks)
    return Answer(question=question, text=text, citations=citations, refused=refused, claims=claims,
                  backend=backend, related=related)


def _renumber(text: str, numbers: dict[int, int]) -> str:
    return _MARKER.sub(lambda m: f"[{numbers.get(int(m[1]), int(m[1]))}]", text)


def _number(cit: Citation, citations: list[Citation]) -> int:
    """The citation's number in the combined list: a document (page) two parts cite is one
    source, holding both parts' passages and supporting sentences."""
    for known in citations:
        if _same(cit, known):
            if cit.text.strip() not in known.text:
                known.text = f"{known.text}\n\n…\n\n{cit.text}"
            known.supporting += [s for s in cit.supporting if s not in known.supporting]
            return known.n
    citations.append(replace(cit, n=len(citations) + 1, supporting=list(cit.supporting)))
    return len(citations)


def _same(a: Citation, b: Citation) -> bool:
    return (a.path, a.doc_id, a.page) == (b.path, b.doc_id, b.page)


def _part_refusal(refusal: str) -> str:
    """The refusal sentence, said of one part."""
    part = re.sub(r"\bthis question\b", "this part", refusal)
    return part if part != refusal else f"{refusal} (this part)"

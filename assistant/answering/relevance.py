"""How relevant each passage is to a question, sentence by sentence: the scores the extractive
answer quotes by, the LLM answerers' gate passes by, and a refusal's closest passages come from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.index.embedding import Embedder
from assistant.index.keyword import terms
from assistant.index.text import units
from assistant.types import Citation, Passage

MEANING, COVERAGE = 0.65, 0.35
REASON_BONUS = 0.05
# A refusal shows the closest passages from RELATED_FLOOR up: below it a passage shares little
# with the question (on news dev, the written off-topic questions' best passages score 0.36 at
# the median; every question the archive answers, 0.5 or more).
RELATED, RELATED_FLOOR = 3, 0.4
_WHY = re.compile(r"^\s*why\b|\b(?:reason|reasons|grounds) (?:for|why)\b", re.I)
_REASON = re.compile(r"\b(?:because|due to|owing to|reasons?|contention|relian\w*|reli(?:ed|es) on|"
                     r"citing|on the grounds|as a result of|in order to)\b", re.I)
_YEAR = re.compile(r"\b(?:1[6-9]|20)\d\d\b")
_MIN_WORDS = 5
_HEADING_WORDS = 10  # shorter than this and without final punctuation: a heading or byline
_FINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass
class Sentence:
    """A quotable sentence of a passage, scored against the question."""

    passage: int  # index into the passages
    position: int  # order within the passage
    text: str
    score: float = 0.0


@dataclass
class Scored:
    """Every quotable sentence of the passages, scored, and each passage's best."""

    sentences: list[Sentence]
    best: list[Sentence | None]  # per passage; None where it has no quotable sentence

    @property
    def relevance(self) -> list[float]:
        """Each passage's relevance: the score of its best sentence (0 where it has none)."""
        return [s.score if s else 0.0 for s in self.best]

    @property
    def top(self) -> Sentence | None:
        """The best sentence of all."""
        return max(self.sentences, key=lambda s: s.score, default=None)


def is_sentence(text: str) -> bool:
    """Long enough to quote, and not a heading or byline."""
    n = len(text.split())
    return n >= _MIN_WORDS and (n >= _HEADING_WORDS or bool(_FINAL.search(text)))


class Relevance:
    """Scores passages' sentences against a question. `idf` weighs the question's terms by the
    archive; `refusal` is the refusal sentence, which a quotable sentence must not contain."""

    def __init__(self, embedder: Embedder, idf: Callable[[str], float], refusal: str) -> None:
        self.embedder = embedder
        self.idf = idf
        # A passage that quotes the refusal sentence is never quoted: the answer would read as a
        # refusal that is not one.
        self._refusal = " ".join(refusal.lower().rstrip(".").split())

    def sentences(self, passages: list[Passage]) -> list[Sentence]:
        """The quotable sentences of the passages, unscored."""
        return [Sentence(p, pos, sent) for p, passage in enumerate(passages)
                for pos, sent in enumerate(units(passage.text))
                if is_sentence(sent) and self._refusal not in sent.lower()]

    def score(self, question: str, passages: list[Passage]) -> Scored:
        """A sentence's score adds two signals. Meaning: the cosine between the question and the
        sentence read with its document's title. Coverage: the IDF-weighted share of the
        question's terms that the sentence's passage (with its title) contains; a term the
        archive never uses weighs the most, so questions about things the archive lacks score
        low. Coverage is taken over the passage because the sentence that answers often does not
        repeat the question's words ("main contention was ..."). Why-questions want a reason:
        sentences that give one get REASON_BONUS. A year the question names must appear in the
        passage (text, title or date): embeddings barely tell 2025 from 2022."""
        sents = self.sentences(passages)
        if sents:
            self._score(question, passages, sents)
        best: list[Sentence | None] = [None] * len(passages)
        for s in sents:
            top = best[s.passage]
            if top is None or s.score > top.score:
                best[s.passage] = s
        return Scored(sents, best)

    def _score(self, question: str, passages: list[Passage], sents: list[Sentence]) -> None:
        vectors = self.embedder.encode([question] + [f"{passages[s.passage].title}: {s.text}" for s in sents])
        meaning = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        q_terms = set(terms(question))
        weights = {t: self.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        coverage = [sum(weights[t] for t in q_terms.intersection(terms(f"{p.title}\n{p.text}"))) / total
                    for p in passages]
        years = set(_YEAR.findall(question))
        dated = [years <= set(_YEAR.findall(f"{p.title}\n{p.date or ''}\n{p.text}")) for p in passages]
        why = bool(_WHY.search(question))
        for sent, cos in zip(sents, meaning):
            if not dated[sent.passage]:
                sent.score = 0.0  # about another year
                continue
            sent.score = MEANING * float(cos) + COVERAGE * coverage[sent.passage]
            if why and _REASON.search(sent.text):
                sent.score += REASON_BONUS

    def relevance(self, question: str, passages: list[Passage]) -> list[float]:
        """Each passage's relevance to the question (Scored.relevance)."""
        return self.score(question, passages).relevance


def related(passages: list[Passage], scored: Scored) -> list[Citation]:
    """For a refusal: the passages that came closest (at most RELATED, from RELATED_FLOOR up),
    each opening at its closest sentence, so that a reader can look for themselves."""
    near = sorted((s for s in scored.best if s is not None and s.score >= RELATED_FLOOR), key=lambda s: -s.score)
    out: list[Citation] = []
    for s in near:
        p = passages[s.passage]
        if any((p.path, p.doc_id) == (o.path, o.doc_id) for o in out):
            continue  # one passage a document: another from it adds little to look at
        out.append(Citation.from_passage(len(out) + 1, p))
        out[-1].supporting = [s.text]
        if len(out) == RELATED:
            break
    return out

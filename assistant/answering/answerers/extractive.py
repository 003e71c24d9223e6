"""The embedded default: an answer composed of the passages' own most relevant sentences.

A sentence's score adds two signals. Meaning: the cosine between the question and the
sentence read with its document's title (the embedding model's vectors). Coverage: the
IDF-weighted share of the question's terms that the sentence's passage (with its title)
contains; a term the archive never uses weighs the most, so questions about things the
archive lacks score low. Coverage is taken over the passage, not the sentence, because the
sentence that answers often does not repeat the question's words ("main contention was ...").
Why-questions want a reason: sentences that give one get a small bonus. A year the question
names must appear in the passage (its text, title or date): embeddings barely tell 2025 from
2022, so "Who won the 2025 Eurovision?" would otherwise be answered from a report on 2022's.

The answer takes the best passage's sentences within MARGIN of the best score, then other
passages' (near-repeats skipped), at most `answer_sentences`, each with its passage's [n],
grouped by passage and in document order so that it reads as the sources do. Below
`min_relevance` the answer is a refusal. Every word of it is a quoted sentence of a cited
passage: faithful by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from assistant.answering import prompts
from assistant.answering.answerers.base import pieces
from assistant.index.embedding import Embedder
from assistant.index.keyword import terms
from assistant.index.text import units
from assistant.settings import Settings
from assistant.types import Answer, Citation, Claim, Passage

MEANING, COVERAGE = 0.65, 0.35
MARGIN = 0.12  # how far below the best sentence others may score and still be used
# A refusal shows the closest passages from RELATED_FLOOR up: below it a passage shares little
# with the question (on news dev, the written off-topic questions' best passages score 0.36 at
# the median; every question the archive answers, 0.5 or more).
RELATED, RELATED_FLOOR = 3, 0.4
REASON_BONUS = 0.05
_WHY = re.compile(r"^\s*why\b|\b(?:reason|reasons|grounds) (?:for|why)\b", re.I)
_REASON = re.compile(r"\b(?:because|due to|owing to|reasons?|contention|relian\w*|reli(?:ed|es) on|"
                     r"citing|on the grounds|as a result of|in order to)\b", re.I)
_YEAR = re.compile(r"\b(?:1[6-9]|20)\d\d\b")
_MIN_WORDS = 5
_HEADING_WORDS = 10  # shorter than this and without final punctuation: a heading or byline
_FINAL = re.compile(r"[.!?…][\"'”’)\]]*$")
@dataclass
class Candidate:
    passage: int  # index into the passages
    position: int  # order within the passage
    text: str
    score: float = 0.0


def _best_per_passage(cands: list[Candidate], n: int) -> list[Candidate | None]:
    best: list[Candidate | None] = [None] * n
    for c in cands:
        top = best[c.passage]
        if top is None or c.score > top.score:
            best[c.passage] = c
    return best


def _is_sentence(text: str) -> bool:
    n = len(text.split())
    return n >= _MIN_WORDS and (n >= _HEADING_WORDS or bool(_FINAL.search(text)))


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder, idf: Callable[[str], float]) -> None:
        self.settings = settings
        self.embedder = embedder
        self.idf = idf
        self.refusal = prompts.load("refusal", settings.prompts_dir)

    def candidates(self, passages: list[Passage]) -> list[Candidate]:
        # A passage that quotes the refusal sentence is never quoted: the answer would read as a
        # refusal that is not one.
        refusal = " ".join(self.refusal.lower().rstrip(".").split())
        return [Candidate(p, pos, sent) for p, passage in enumerate(passages)
                for pos, sent in enumerate(units(passage.text))
                if _is_sentence(sent) and refusal not in sent.lower()]

    def score(self, question: str, passages: list[Passage], cands: list[Candidate]) -> None:
        vectors = self.embedder.encode([question] + [f"{passages[c.passage].title}: {c.text}"
                                                     for c in cands])
        meaning = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        q_terms = set(terms(question))
        weights = {t: self.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        coverage = [sum(weights[t] for t in q_terms.intersection(terms(f"{p.title}\n{p.text}"))) / total
                    for p in passages]
        years = set(_YEAR.findall(question))
        dated = [years <= set(_YEAR.findall(f"{p.title}\n{p.date or ''}\n{p.text}")) for p in passages]
        why = bool(_WHY.search(question))
        for cand, cos in zip(cands, meaning):
            if not dated[cand.passage]:
                cand.score = 0.0  # about another year
                continue
            cand.score = MEANING * float(cos) + COVERAGE * coverage[cand.passage]
            if why and _REASON.search(cand.text):
                cand.score += REASON_BONUS

    def best_sentences(self, question: str, passages: list[Passage]) -> list[Candidate | None]:
        """Each passage's best-scoring sentence (None where it has none)."""
        cands = self.candidates(passages)
        if cands:
            self.score(question, passages, cands)
        return _best_per_passage(cands, len(passages))

    def relevance(self, question: str, passages: list[Passage]) -> list[float]:
        """Each passage's relevance: the score of its best sentence (0 where it has none). The
        LLM answerers use it too: to refuse without calling the LLM, and to order passages."""
        return [c.score if c else 0.0 for c in self.best_sentences(question, passages)]

    def related(self, passages: list[Passage], best: list[Candidate | None]) -> list[Citation]:
        """For a refusal: the passages that came closest (at most RELATED, from RELATED_FLOOR
        up), each opening at its closest sentence, so that a reader can look for themselves."""
        near = sorted((c for c in best if c is not None and c.score >= RELATED_FLOOR), key=lambda c: -c.score)
        out: list[Citation] = []
        for c in near:
            p = passages[c.passage]
            if any((p.path, p.doc_id) == (o.path, o.doc_id) for o in out):
                continue  # one passage a document: another from it adds little to look at
            out.append(Citation.from_passage(len(out) + 1, p))
            out[-1].supporting = [c.text]
            if len(out) == RELATED:
                break
        return out

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str | Answer]:
        """The answer is complete at once: it streams sentence by sentence, then the Answer."""
        answer = self.answer(question, passages)
        yield from pieces(answer.text)
        yield answer

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        cands = self.candidates(passages)
        if cands:
            self.score(question, passages, cands)
        best = max(cands, key=lambda c: c.score, default=None)
        if best is None or best.score < self.settings.min_relevance:
            return Answer(question=question, text=self.refusal, refused=True, backend=self.name,
                          related=self.related(passages, _best_per_passage(cands, len(passages))))
        chosen = self._select(cands, best)
        # Passages in order of their best sentence; sentences in document order.
        order = list(dict.fromkeys(c.passage for c in sorted(chosen, key=lambda c: -c.score)))
        numbers = {p: n for n, p in enumerate(order, 1)}
        chosen.sort(key=lambda c: (numbers[c.passage], c.position))
        text = " ".join(f"{c.text} [{numbers[c.passage]}]" for c in chosen)
        citations = [Citation.from_passage(numbers[p], passages[p]) for p in order]
        for cit, p in zip(citations, order):
            cit.supporting = [c.text for c in chosen if c.passage == p]
        # Each claim is a verbatim sentence of the passage it cites: supported by construction.
        claims = [Claim(c.text, [numbers[c.passage]], 1.0, True) for c in chosen]
        return Answer(question=question, text=text, citations=citations, claims=claims, backend=self.name)

    def _select(self, cands: list[Candidate], best: Candidate) -> list[Candidate]:
        floor = max(self.settings.min_relevance, best.score - MARGIN)
        ranked = sorted((c for c in cands if c.score >= floor),
                        key=lambda c: (c.passage != best.passage, -c.score))
        chosen: list[Candidate] = []
        seen: list[set[str]] = []
        for c in ranked:
            words = set(c.text.lower().split())
            if any(len(words & s) / len(words | s) > 0.6 for s in seen):
                continue  # the same fact again, from an overlapping chunk or another report
            chosen.append(c)
            seen.append(words)
            if len(chosen) == self.settings.answer_sentences:
                break
        return chosen

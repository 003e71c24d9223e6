"""The embedded default: an answer made of the passages' own most relevant sentences (scored by
assistant/answering/relevance.py), each quoted with its passage's [n]: faithful by construction."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from assistant.answering import prompts
from assistant.answering.answerers.base import pieces
from assistant.answering.relevance import Relevance, Sentence, related
from assistant.index.embedding import Embedder
from assistant.settings import Settings
from assistant.types import Answer, Citation, Claim, Passage

MARGIN = 0.12  # how far below the best sentence others may score and still be used


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder, idf: Callable[[str], float]) -> None:
        self.settings = settings
        self.refusal = prompts.load("refusal", settings.prompts_dir)
        self.relevance = Relevance(embedder, idf, self.refusal)

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str | Answer]:
        """The answer is complete at once: it streams sentence by sentence, then the Answer."""
        answer = self.answer(question, passages)
        yield from pieces(answer.text)
        yield answer

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        """The best passage's sentences within MARGIN of the best score, then other passages'
        (near-repeats skipped), at most `answer_sentences`, grouped by passage and in document
        order so that it reads as the sources do. Below `min_relevance`: the refusal."""
        scored = self.relevance.score(question, passages)
        best = scored.top
        if best is None or best.score < self.settings.min_relevance:
            return Answer(question=question, text=self.refusal, refused=True, backend=self.name,
                          related=related(passages, scored))
        chosen = self._select(scored.sentences, best)
        # Passages in order of their best sentence; sentences in document order.
        order = list(dict.fromkeys(s.passage for s in sorted(chosen, key=lambda s: -s.score)))
        numbers = {p: n for n, p in enumerate(order, 1)}
        chosen.sort(key=lambda s: (numbers[s.passage], s.position))
        text = " ".join(f"{s.text} [{numbers[s.passage]}]" for s in chosen)
        citations = [Citation.from_passage(numbers[p], passages[p]) for p in order]
        for cit, p in zip(citations, order):
            cit.supporting = [s.text for s in chosen if s.passage == p]
        # Each claim is a verbatim sentence of the passage it cites: supported by construction.
        claims = [Claim(s.text, [numbers[s.passage]], 1.0, True) for s in chosen]
        return Answer(question=question, text=text, citations=citations, claims=claims, backend=self.name)

    def _select(self, sentences: list[Sentence], best: Sentence) -> list[Sentence]:
        floor = max(self.settings.min_relevance, best.score - MARGIN)
        ranked = sorted((s for s in sentences if s.score >= floor),
                        key=lambda s: (s.passage != best.passage, -s.score))
        chosen: list[Sentence] = []
        seen: list[set[str]] = []
        for s in ranked:
            words = set(s.text.lower().split())
            if any(len(words & w) / len(words | w) > 0.6 for w in seen):
                continue  # the same fact again, from an overlapping chunk or another report
            chosen.append(s)
            seen.append(words)
            if len(chosen) == self.settings.answer_sentences:
                break
        return chosen

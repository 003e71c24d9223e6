"""Answers written by an LLM from the passages the relevance gate passes, every citation checked.
The answerer keeps nothing between questions: one instance serves concurrent requests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.answering.citations import MarkerStream, cite_grammar
from assistant.answering.context import Packed, Prompts, answer_messages, condense_messages
from assistant.answering.llms.base import ChatModel, complete
from assistant.answering.refusals import says_cannot_answer
from assistant.answering.relevance import Hints, Relevance, Scored, related
from assistant.answering.verify import Verifier
from assistant.index.embedding import Embedder
from assistant.index.sentence_vectors import SentenceVectors
from assistant.settings import Settings
from assistant.types import Answer, Citation, Passage

CONDENSE_TOKENS = 80
_PREFIX = re.compile(r"^(?:standalone question|rewritten question|question)\s*:\s*", re.I)


@dataclass
class Prepared:
    """What the gate made of one question's passages: their scores, and the prompt for the LLM
    (None: nothing is relevant enough, so the answer is the refusal and the LLM is not called)."""

    scored: Scored
    packed: Packed | None


class GenerativeAnswerer:
    def __init__(self, settings: Settings, embedder: Embedder, idf: Callable[[str], float],
                 llm: ChatModel, vectors: SentenceVectors) -> None:
        self.settings = settings
        self.llm = llm
        self.name = llm.name
        self.prompts = Prompts.load(settings.prompts_dir)
        self.relevance = Relevance(embedder, idf, self.prompts.refusal, vectors)
        self.verifier = Verifier(embedder, settings.support_threshold, vectors=vectors)

    def answer(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Answer:
        *_, answer = self.stream(question, passages, hints)
        assert isinstance(answer, Answer)
        return answer

    def select(self, passages: list[Passage], scored: Scored) -> list[Passage]:
        """The passages worth showing the LLM, most relevant first; none: refuse."""
        scores = scored.relevance
        ranked = sorted(range(len(passages)), key=lambda i: -scores[i])
        kept = [passages[i] for i in ranked if scores[i] >= self.settings.min_relevance]
        return kept[: self.settings.llm_passages]

    def prepare(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Prepared:
        """The gate's scores and the prompt `stream` sends for this question (no LLM call)."""
        scored = self.relevance.score(question, passages, hints)
        chosen = self.select(passages, scored)
        packed = answer_messages(question, chosen, self.prompts, self.llm.context_window,
                                 self.settings.llm_max_tokens) if chosen else None
        return Prepared(scored, packed)

    def stream(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Iterator[str | Answer]:
        """1. The gate (`prepare`): when no passage reaches `min_relevance` the answer is the
        refusal and the LLM is not called; else the passages that do, most relevant first (at
        most `llm_passages`), are numbered and packed into the prompt (context.py).
        2. The reply streams through a MarkerStream: [n] naming a passage are renumbered 1..m in
        order of first citation, others dropped, so the streamed text is the final text.
        3. Each sentence is checked against the passages it cites (verify.py); an answer that
        says it cannot answer and makes no supported claim is marked refused."""
        prepared = self.prepare(question, passages, hints)
        packed = prepared.packed
        if packed is None:
            yield self.prompts.refusal
            yield Answer(question=question, text=self.prompts.refusal, refused=True, backend=self.name,
                         related=related(passages, prepared.scored, self.relevance.related_floor))
            return
        markers = MarkerStream(len(packed.passages))
        parts: list[str] = []
        grammar = cite_grammar(len(packed.passages), self.prompts.refusal) if self.llm.grammar else None
        for piece in self.llm.stream(packed.messages, self.settings.llm_max_tokens, grammar):
            out = markers.feed(piece if parts else piece.lstrip())
            if out:
                parts.append(out)
                yield out
        tail = markers.flush()
        if tail:
            parts.append(tail)
            yield tail
        text = "".join(parts)
        if not text.strip():  # nothing came back: say so in the refusal's words
            text = self.prompts.refusal
            yield text
        citations = [Citation.from_passage(n, packed.passages[old - 1]) for n, old in enumerate(markers.order, 1)]
        claims = self.verifier.check(text, citations)
        refused = not any(c.supported for c in claims) and (
            not text.strip() or says_cannot_answer([c.text for c in claims] or [text], self.prompts.refusal))
        near = related(passages, prepared.scored, self.relevance.related_floor) if refused else []
        yield Answer(question=question, text=text, citations=citations, refused=refused, claims=claims,
                     backend=self.name, related=near)

    def condense(self, question: str, turns: list[tuple[str, str]]) -> str | None:
        """The follow-up rewritten by the LLM as a standalone question (prompts/condense.txt);
        None when the reply is unusable (empty, a refusal, far longer than a question)."""
        reply = complete(self.llm, condense_messages(question, turns, self.prompts), CONDENSE_TOKENS)
        lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
        if not lines:
            return None
        out = _PREFIX.sub("", lines[0]).strip().strip("\"'“”‘’ ").strip()
        if not out or len(out) > 2 * len(question) + 300 or says_cannot_answer([out], self.prompts.refusal):
            return None
        return out

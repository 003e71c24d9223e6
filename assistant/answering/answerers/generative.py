"""Answers written by an LLM from the most relevant passages, with every citation checked.

1. Relevance gate: the extractive answerer's sentence scores rate each passage; when none
   reaches `min_relevance` the answer is the refusal, and the LLM is not called.
2. The passages that pass, most relevant first (at most `llm_passages`), are numbered and packed
   into the prompt (assistant/context.py).
3. The reply streams through a MarkerStream: [n] naming a passage are renumbered 1..m in order
   of first citation, others dropped, so the streamed text is the final text.
4. Each sentence is checked against the passages it cites (assistant/verify.py); an answer
   that says it cannot answer and makes no supported claim is marked refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from assistant.answering.answerers.extractive import Candidate, ExtractiveAnswerer
from assistant.answering.citations import MarkerStream, cite_grammar
from assistant.answering.context import Packed, Prompts, answer_messages
from assistant.answering.llms.base import ChatModel
from assistant.answering.refusals import says_cannot_answer
from assistant.answering.verify import Verifier
from assistant.index.embedding import Embedder
from assistant.settings import Settings
from assistant.types import Answer, Citation, Passage

CONDENSE_TOKENS = 80
_PREFIX = re.compile(r"^(?:standalone question|rewritten question|question)\s*:\s*", re.I)


class GenerativeAnswerer:
    def __init__(self, settings: Settings, embedder: Embedder, idf: Callable[[str], float],
                 llm: ChatModel) -> None:
        self.settings = settings
        self.llm = llm
        self.name = llm.name
        self.prompts = Prompts.load(settings.prompts_dir)
        self.gate = ExtractiveAnswerer(settings, embedder, idf)
        self.verifier = Verifier(embedder, settings.support_threshold)
        self.last: Packed | None = None  # the last prompt sent (for evaluation and debugging)
        self.last_seconds = 0.0  # time spent generating, last answer

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        *_, answer = self.stream(question, passages)
        assert isinstance(answer, Answer)
        return answer

    def select(self, passages: list[Passage], best: list[Candidate | None]) -> list[Passage]:
        """The passages worth showing the LLM (`best`: each one's best sentence, by the gate),
        most relevant first; none: refuse."""
        scores = [c.score if c else 0.0 for c in best]
        ranked = sorted(range(len(passages)), key=lambda i: -scores[i])
        kept = [passages[i] for i in ranked if scores[i] >= self.settings.min_relevance]
        return kept[: self.settings.llm_passages]

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str | Answer]:
        self.last = None
        best = self.gate.best_sentences(question, passages)
        chosen = self.select(passages, best)
        if not chosen:
            yield self.prompts.refusal
            yield Answer(question=question, text=self.prompts.refusal, refused=True, backend=self.name,
                         related=self.gate.related(passages, best))
            return
        packed = answer_messages(question, chosen, self.prompts, self.llm.context_window,
                                 self.settings.llm_max_tokens)
        self.last = packed
        markers = MarkerStream(len(packed.passages))
        parts: list[str] = []
        start = time.perf_counter()
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
        self.last_seconds = time.perf_counter() - start
        text = "".join(parts)
        if not text.strip():  # nothing came back: say so in the refusal's words
            text = self.prompts.refusal
            yield text
        citations = [Citation.from_passage(n, packed.passages[old - 1]) for n, old in enumerate(markers.order, 1)]
        claims = self.verifier.check(text, citations)
        refused = not any(c.supported for c in claims) and (
            not text.strip() or says_cannot_answer([c.text for c in claims] or [text], self.prompts.refusal))
        yield Answer(question=question, text=text, citations=citations, refused=refused, claims=claims,
                     backend=self.name, related=self.gate.related(passages, best) if refused else [])

    def condense(self, question: str, turns: list[tuple[str, str]]) -> str | None:
        """The follow-up rewritten by the LLM as a standalone question (prompts/condense.txt);
        None when the reply is unusable (empty, a refusal, far longer than a question)."""
        from assistant.answering.context import condense_messages
        from assistant.answering.llms.base import complete

        reply = complete(self.llm, condense_messages(question, turns, self.prompts), CONDENSE_TOKENS)
        lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
        if not lines:
            return None
        out = _PREFIX.sub("", lines[0]).strip().strip("\"'“”‘’ ").strip()
        if not out or len(out) > 2 * len(question) + 300 or says_cannot_answer([out], self.prompts.refusal):
            return None
        return out

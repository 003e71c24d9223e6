"""The read path of one question, from the question as asked to the streamed Answer:

1. a follow-up borrows its topic from the earlier turns (an LLM backend rewrites it instead,
   prompts/condense.txt) and looks first in the documents the last answer quoted (followup.py);
2. a question of several parts is split (parts.py) and each part answered on its own;
3. retrieval: a year the question names is a preference, searched among the documents dated
   that year (and in the next year's first quarter, where reports on it are dated) besides the
   whole archive, never a gate; the best match's next chunk comes too;
4. one source per document; the answerer, told what kind of answer is wanted;
5. the answer's age: a note when its sources are old (dating.py).

`filters` carry the reader's archive collections (`Filters.collections`); every search here
keeps them, and what stands for "the archive" (its newest year, the documents the last answer
quoted) is the archive within them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from assistant.answering import compose, dating, intent, parts, prompts
from assistant.answering.answerers.base import Answerer, pieces
from assistant.answering.followup import FollowUp, follow_up
from assistant.answering.query import check_question
from assistant.answering.relevance import Hints
from assistant.answering.retrieve import Retriever
from assistant.index.search import Filters
from assistant.settings import Settings
from assistant.types import Answer, Passage

NEAR_K = 3  # passages from the documents the last answer quoted, searched first; as many again
SOON_AFTER = 31  # from documents dated up to this many days after them
YEAR_K = 4  # passages from documents dated in a year the question names, per year
# ... and from documents dated in the next year's first quarter: a report on a year's events (a
# review held in December, a year's annual report) is often dated after it.
REPORTED_K, REPORTED_BY = 2, 331


class Asking:
    def __init__(self, settings: Settings, retriever: Retriever, answerer: Answerer) -> None:
        self.settings = settings
        self.retriever = retriever
        self.answerer = answerer
        self.refusal = prompts.load("refusal", settings.prompts_dir)  # said of a part the archive lacks

    def run(self, question: str, turns: list[tuple[str, str]], filters: Filters) -> Iterator[str | Answer]:
        """The answer's text in pieces, then the Answer (question and standalone set)."""
        snap = self.retriever.snapshot
        scope = filters.scope if filters.collections is not None else None
        context = follow_up(question, turns, snap, snap.mask(scope) if scope else None)
        newest = snap.newest_year_in(scope)
        rewrite = getattr(self.answerer, "condense", None)
        standalone = question
        rewritten = rewrite(question, turns) if turns and rewrite is not None else None
        if rewritten:  # an LLM backend: its condenser, as before
            standalone = check_question(rewritten)
            context = replace(context, topic="") if context else None
        elif context:  # no LLM, or its rewrite was unusable: the topic of the earlier turns
            standalone = context.query(question)
        split = parts.parts(question)
        if len(split) == 1:
            stream = self._part(standalone, question, filters, context, newest)
        else:
            stream = self._parts(question, split, filters, context, newest)
        for item in stream:
            if isinstance(item, Answer):
                item.question = question
                item.standalone_question = standalone if standalone != question else None
                note = self._age(item, intent.read(question), newest)
                if note:
                    item.text += f"\n\n{note}"
                    item.age_note = note
                    yield f"\n\n{note}"
            yield item

    def _part(self, query: str, asked: str, filters: Filters, context: FollowUp | None,
              newest: int | None) -> Iterator[str | Answer]:
        passages, hints = self._gather(query, asked, filters, context, newest)
        stream = self.answerer.stream
        yield from stream(query, passages, hints)

    def _parts(self, question: str, split: list[parts.Part], filters: Filters,
               context: FollowUp | None, newest: int | None) -> Iterator[str | Answer]:
        """Each part answered in full, then the labelled whole (a part's answer is short)."""
        labelled = []
        whole = intent.read(question)
        for part in split:
            query = context.query(part.question) if context else part.question
            wanted = parts.read_part(part, whole)
            passages, hints = self._gather(query, part.question, filters, context, newest, wanted)
            answer = self.answerer.answer(query, passages, hints)
            labelled.append((part.label, answer))
        combined = compose.combine(question, labelled, self.refusal, self.answerer.name)
        yield from pieces(combined.text)
        yield combined

    def _gather(self, query: str, asked: str, filters: Filters, context: FollowUp | None,
                newest: int | None, wanted: intent.Intent | None = None) -> tuple[list[Passage], Hints]:
        """The passages to answer from, and what the scoring should know about them. `newest`:
        the newest year of the archive the reader may read; `wanted`: what `asked` asks for,
        where not read from its own words (a part of a question)."""
        k = self.settings.top_k
        snap = self.retriever.snapshot
        wanted = wanted or intent.read(asked)
        if context:  # "What had she said ...?": she is whom the earlier turns named
            wanted = intent.with_speaker_from(wanted, context.topic)
        vector = self.retriever.vector(query)  # encoded once: searched several times, and scored against
        found: list[Passage] = []
        if context and context.cited:
            near = replace(filters, documents_of=context.cited)
            found += self.retriever.search(query, NEAR_K, filters=near, vector=vector)
            found += self._soon_after(query, filters, context.cited, vector)
        near_docs = {snap.document(p.id) for p in found}
        if wanted.years and not (filters.since or filters.until):
            for year in wanted.years[:3]:
                dated = replace(filters, since=int(year) * 10000, until=int(year) * 10000 + 9999)
                found += self.retriever.search(query, YEAR_K, filters=dated, vector=vector)
                # From January (a month without a day counts), never a date of the next year alone.
                next_year = (int(year) + 1) * 10000
                early = replace(filters, since=next_year + 100, until=next_year + REPORTED_BY)
                found += self.retriever.search(query, REPORTED_K, filters=early, vector=vector)
        searched = self.retriever.search(query, k, filters=filters or None, vector=vector)
        # The best match's next chunk, besides the k: an article's answer often sits just past it.
        after = self.retriever.following(searched[0], filters or None) if searched else []
        found += searched[:1] + after + searched[1:]
        unique: dict[str, Passage] = {}
        for p in found:  # each at its first place
            unique.setdefault(p.id, p)
        # Scored chunk by chunk, as retrieved (a joined document would cover more of the question
        # than any of its passages does); the extractive answer joins a document's quoted ones.
        passages = list(unique.values())[: k + NEAR_K + len(after)]
        # A follow-up that names a subject of its own ("Did the National Human Rights Committee
        # agree?") is about that subject's documents, not only the last answer's; unless it
        # points back as well ("Did the Interior Ministry respond before it came out?").
        # So is one naming a year the earlier turns did not ("... who visited in 2022").
        new_year = bool(set(wanted.years) - set(intent.YEAR.findall(context.topic))) if context else False
        own_subject = context and (new_year or (_new_name(asked, context.topic) and not intent.points_back(asked)))
        near_docs = set() if own_subject else near_docs
        near_set = {i for i, p in enumerate(passages) if snap.document(p.id) in near_docs}
        hints = Hints(wanted, context.said if context else set(), focus=asked if context else None, near=near_set,
                      topic=context.topic if context else "", vectors={query: vector})
        if wanted.present and newest:
            hints.old = {i for i, p in enumerate(passages)
                         if (dating.year_of(p.date) or newest) < newest - dating.NOW_YEARS}
        return passages, hints

    def _soon_after(self, query: str, filters: Filters, cited: tuple[str, ...], vector: Any) -> list[Passage]:
        """Passages of documents dated from the last answer's sources to SOON_AFTER days later:
        responses and reactions ("Who responded to that?") follow what they answer."""
        snap = self.retriever.snapshot
        dated = [d for d in (snap.date_of(c) for c in cited) if d % 100]  # a whole date only
        if not dated or filters.since or filters.until:
            return []
        lo = _as_date(min(dated))
        hi = _as_date(max(dated)) + timedelta(days=SOON_AFTER)
        window = replace(filters, since=_as_int(lo), until=_as_int(hi))
        return self.retriever.search(query, NEAR_K, filters=window, vector=vector)

    def _age(self, answer: Answer, wanted: intent.Intent, newest: int | None) -> str | None:
        if answer.refused or not answer.citations:
            return None
        # A timeline's entries are as old as their own dates, not as the timeline.
        return dating.age_note([dating.quoted_date(c.date, c.supporting) for c in answer.citations], newest,
                               wanted.present)


def _new_name(question: str, topic: str) -> bool:
    """Does the question name someone or something (two or more capitalised words, past its
    first word) that the earlier turns did not?"""
    names = re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w'’-]+(?:\s+(?:of\s+|for\s+)?[A-Z][\w'’-]+)+", question)
    known = set(topic.lower().split())
    return any(not set(n.lower().split()) <= known for n in names)


def _as_date(yyyymmdd: int) -> date:
    return date(yyyymmdd // 10000, yyyymmdd // 100 % 100 or 1, yyyymmdd % 100 or 1)


def _as_int(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day

"""The embedded default: an answer made of the passages' own most relevant sentences (scored by
assistant/answering/relevance.py), each quoted with its passage's [n]: faithful by construction."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from assistant.answering import cues, prompts, speakers
from assistant.answering.answerers.base import pieces
from assistant.answering.compose import one_per_document
from assistant.answering.dating import shown
from assistant.answering.relevance import Hints, Relevance, Sentence, related
from assistant.index.embedding import Embedder
from assistant.index.language import quoted_note
from assistant.index.sentence_vectors import SentenceVectors
from assistant.settings import Settings
from assistant.types import Answer, Citation, Claim, Passage

MARGIN = 0.12  # how far below the best sentence others may score and still be used
CLOSE = 0.03  # a document whose best sentence scores this close to the best is about as relevant


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder, idf: Callable[[str], float],
                 vectors: SentenceVectors) -> None:
        self.settings = settings
        self.refusal = prompts.load("refusal", settings.prompts_dir)
        self.relevance = Relevance(embedder, idf, self.refusal, vectors)

    def stream(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Iterator[str | Answer]:
        """The answer is complete at once: it streams sentence by sentence, then the Answer."""
        answer = self.answer(question, passages, hints)
        yield from pieces(answer.text)
        yield answer

    def answer(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Answer:
        """The direct answer first: the sentence ranked best for the kind of answer the question
        wants (cues.py), then the others whose rank is within MARGIN of it, the best passage's
        first (near-repeats skipped), at most `answer_sentences`; each followed by its [n] and
        its source's date. Below `min_relevance`: the refusal, with the closest passages."""
        scored = self.relevance.score(question, passages, hints)
        best = scored.top
        kind = scored.intent.kind if scored.intent else ""
        chosen = self._select(scored.answering, best.score, passages, kind) \
            if best is not None and best.score >= self.settings.min_relevance else None
        # A how-many answer with no number at all ("How much money does the League receive?") is
        # about the subject, not an answer: the archive names no amount. Refused, closest shown.
        if chosen is None or (kind == "count" and not any(s.fits for s in chosen)):
            return Answer(question=question, text=self.refusal, refused=True, backend=self.name,
                          related=related(passages, scored, self.relevance.related_floor))
        # One source per document (and page), numbered as first quoted: its passages joined.
        docs = list(dict.fromkeys(_document(passages[s.passage]) for s in chosen))
        numbers = {p: docs.index(_document(passages[p])) + 1 for p in {s.passage for s in chosen}}
        text = " ".join(f"{s.text} {marker(numbers[s.passage], passages[s.passage])}" for s in chosen)
        # A question in another language than the quotations: say so, in the question's language.
        note = quoted_note(question, " ".join(s.text for s in chosen))
        if note:
            text = f"{note} {text}"
        citations = []
        for n, _ in enumerate(docs, 1):
            own = [passages[p] for p in sorted(numbers, key=lambda p: passages[p].chunk) if numbers[p] == n]
            cit = Citation.from_passage(n, one_per_document(own, self.settings.context_chunks)[0])
            cit.supporting = [s.text for s in chosen if numbers[s.passage] == n]
            citations.append(cit)
        # Each claim is a verbatim sentence of the passage it cites: supported by construction.
        claims = [Claim(s.text, [numbers[s.passage]], 1.0, True) for s in chosen]
        return Answer(question=question, text=text, citations=citations, claims=claims, backend=self.name)

    def _select(self, sentences: list[Sentence], best: float, passages: list[Passage],
                kind: str = "") -> list[Sentence]:
        """The lead (the best ranked of the relevant whole sentences, of those that give the kind
        of answer asked for where any does: from the best document or one about as relevant, or
        for a `kind` in cues.STRONG_KINDS from any relevant passage) first, then the sentence that goes on with it, then
        those within MARGIN of the best score or of the lead's rank: those that give the kind of
        answer asked for first, the lead's passage's before the rest, by rank."""
        # The best sentence's document is relevant: its sentences that give the kind of answer
        # asked for may be quoted from a lower floor (a reason rarely repeats the question's words).
        # ... and so is a document about as relevant (within CLOSE of it).
        top = max(sentences, key=lambda s: s.score)
        close = {_document(passages[s.passage]) for s in sentences if s.score >= top.score - CLOSE}
        # ... and so is that of the best ranked, where related: the cues and the conversation
        # say it answers ("Amara Veldt ... said the League had sent ..." for "What had she said?").
        ranked_first = max(sentences, key=lambda s: s.rank)
        if ranked_first.score >= self.relevance.related_floor:
            close.add(_document(passages[ranked_first.passage]))
        home = {i for i, p in enumerate(passages) if _document(p) in close}
        relevant = [s for s in sentences if s.score >= self.settings.min_relevance
                    or (s.fits and s.score >= self.relevance.related_floor and s.passage in home)]
        # The opening sentence gives the kind of answer asked for, where one does; it is whole.
        plain = [s for s in relevant if not (s.scene or s.fragment)] or relevant
        # ... from the best document, or from one about as relevant.
        # ... else, for a name, a date or a number, from any relevant passage: the best document
        # may be about the subject without saying who chairs it.
        near = [s for s in plain if s.fits and (s.score >= best - MARGIN or s.passage in home)]
        # A reason may be given without the words the cues look for ("who confessed to being an
        # agent ..."): a sentence that fits leads only where it ranks within MARGIN of the best.
        # (Someone's own words are read by whose they are, a surer cue: not so for them.)
        if kind == "why":
            high = max(s.rank for s in plain)
            near = [s for s in near if s.rank >= high - MARGIN]
        if not near and kind in cues.STRONG_KINDS:
            near = [s for s in plain if s.fits and s.score >= self.settings.min_relevance]
            # ... or, where no relevant sentence gives one, a related one that does and ranks
            # within MARGIN of the best relevant one: its own words ("spokesperson for the
            # National Police") may share little with the question's.
            high = max(s.rank for s in plain)
            near = near or [s for s in sentences if s.fits and not (s.scene or s.fragment)
                            and s.score >= self.relevance.related_floor and s.rank >= high - MARGIN]
        lead = max(near or plain, key=lambda s: s.rank)
        eligible = [s for s in relevant if (s.score >= best - MARGIN or s.rank >= lead.rank - MARGIN)
                    and (s is lead or not (s.scene or s.fragment))]  # scene-setting, pieces: not at all
        eligible += [lead] if lead not in eligible else []
        # A why answered by a verdict alone ("dismisses it as biased"): the best relevant reason
        # too, where another sentence gives one ("saying it had surveyed only 38 journalists").
        if kind == "why" and not any(cues.gives_reason(s.text) for s in eligible):
            reasons = [s for s in plain if s.fits and cues.gives_reason(s.text)]
            eligible += [max(reasons, key=lambda s: s.rank)] if reasons else []
        ranked = sorted(eligible, key=lambda s: (s is not lead, not s.fits, s.passage != lead.passage, -s.rank))
        chosen: list[Sentence] = []
        seen: list[set[str]] = []
        placed = {(s.passage, s.position): s for s in sentences}
        for s in ranked:
            if len(chosen) == self.settings.answer_sentences:
                break
            # Each quoted sentence brings the one that goes on with it, right after it: the lead
            # any, the others one that gives the kind of answer asked for too.
            follows = self._continuation(s, sentences, passages, placed)
            for t in (s, follows if follows and (s is lead or follows.fits) else None):
                if t is None or t in chosen or len(chosen) == self.settings.answer_sentences:
                    continue
                words = set(t.text.lower().split())
                if any(len(words & w) / len(words | w) > 0.6 for w in seen):
                    continue  # the same fact again, from an overlapping chunk or another report
                chosen.append(t)
                seen.append(words)
        return chosen

    def _continuation(self, lead: Sentence, sentences: list[Sentence], passages: list[Passage],
                      placed: dict[tuple[int, int], Sentence]) -> Sentence | None:
        """The sentence right after the lead when it goes on with the lead's thought ("In her
        view, such statements ...", "He said ..."): what someone said or why often spans two
        sentences, and the second shares few words with the question; so does a quotation. It
        may open the next chunk of the lead's document, where that was retrieved too. Its own
        words say little ("Asked about it, she said ..."): it is judged halfway to the lead's
        relevance. `placed`: the sentences by (passage, position)."""
        place = (lead.passage, lead.position + 1)
        if lead.last:  # the next chunk, which may open with the lead again (chunks overlap)
            at = passages[lead.passage]
            nxt = next((i for i, p in enumerate(passages) if _document(p) == _document(at) and p.chunk == at.chunk + 1),
                       None)
            again = [s.position for s in sentences if s.passage == nxt and s.text == lead.text]
            place = (nxt, again[0] + 1 if again else 0) if nxt is not None else place
        s = placed.get(place)
        goes_on = s is not None and (_GOES_ON.match(s.text) or speakers.opens_quote(lead.text))  # or the quotation
        if (s is not None and goes_on and not (s.fragment or s.scene)
                and (s.score + max(s.score, lead.score)) / 2 >= self.relevance.related_floor):
            return s
        return None


# A sentence that leans on the one before it: a pronoun or "such"/"this" for its subject, or
# for the one who speaks ("Asked about it afterwards, she said ...").
_GOES_ON = re.compile(r"^[\"“‘']?(?:(?:She|He|They|It|This|These|Such|Her|His|Their|Its)\b|"
                      r"(?:In|By) (?:her|his|their|its) (?:view|words|opinion|account)\b|"
                      r"According to (?:her|him|them)\b|"
                      r"[^.;\"“]{0,60}?,\s*(?:she|he|they)\s+(?:said|added|told|noted|replied|answered|argued|insisted)\b)")


def _document(p: Passage) -> tuple[str, str, int | None]:
    return p.path, p.doc_id, p.page


def marker(n: int, passage: Passage) -> str:
    """A quoted sentence's citation: "[n]", and its source's date where it has one."""
    when = shown(passage.date)
    return f"[{n}] ({when})" if when else f"[{n}]"

"""How relevant each passage is to a question, sentence by sentence: the scores the extractive
answer quotes by, the LLM answerers' gate passes by, and a refusal's closest passages come from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.answering import cues, speakers
from assistant.answering.dating import entry_years
from assistant.answering.intent import YEAR, Intent, occasions, read, subject
from assistant.index.embedding import Embedder
from assistant.index.keyword import terms
from assistant.index.language import detect
from assistant.index.models import calibrated
from assistant.index.sentence_vectors import SentenceVectors
from assistant.index.text import is_sentence, titled, units
from assistant.types import Citation, Passage

MEANING, COVERAGE = 0.65, 0.35
YEAR_DATE_BONUS = 0.06  # rank: the document is dated in a year the question names
YEAR_RANK_PENALTY = 0.15  # a dated entry (of a timeline) of another year than the conversation's
# A follow-up's answer should say something new (maximal marginal relevance): a sentence ranks
# lower by REPEAT_WEIGHT times its cosine with the nearest sentence of the last answer, above
# REPEAT_FROM (unrelated sentences sit below it).
REPEAT_WEIGHT, REPEAT_FROM = 0.7, 0.4
# A follow-up's context makes the documents the last answer cited (and those soon after) more
# relevant than the question's few words can say: their sentences gain this, score and rank.
NEAR_BONUS = 0.12
SENTENCE_COVERAGE = 0.1
FOCUS_WEIGHT = 0.3
BARE_WEIGHT = 0.25  # the rank's meaning: this share from the sentence alone, the rest with its title
BARE_TOP = 16  # ... read for this many sentences, the best ranked without it (see _read_bare)
OLD_PENALTY = 0.06  # a question about how things are now prefers recent sources
# A refusal shows the closest passages from RELATED_FLOOR up: below it a passage shares little
# with the question (on news dev, the written off-topic questions' best passages score 0.36 at
# the median; every question the archive answers, 0.5 or more).
RELATED, RELATED_FLOOR = 3, 0.4


@dataclass
class Sentence:
    """A quotable sentence of a passage, scored against the question."""

    passage: int  # index into the passages
    position: int  # order within the passage
    text: str
    score: float = 0.0  # relevance: what the refusal gate reads
    rank: float = 0.0  # relevance plus the answer-kind cues: what orders an answer's sentences
    # Its passage lacks a year the question names, or it is about another of a series than the
    # question names (the third review, asked about the fourth): shown among a refusal's closest
    # passages, never quoted as the answer (a report of 2022's winner does not say who won in 2025).
    off_year: bool = False
    fits: bool = False  # it gives the kind of answer the question asks for (cues.py)
    scene: bool = False  # it only sets the scene for this kind of question (a meeting's logistics)
    fragment: bool = False  # a piece of a sentence that a chunk's (or a page's) edge cut
    last: bool = False  # its passage's last


@dataclass
class Hints:
    """What the conversation tells the scoring besides the question: the kind of answer wanted,
    sentences the last answer already gave, and passages from the documents it cited."""

    intent: Intent | None = None
    avoid: set[str] = field(default_factory=set)  # the last answer's sentences
    focus: str | None = None  # a follow-up as asked ("Who responded to that?"), beside its expanded query
    topic: str = ""  # what the earlier turns were about (their content words)
    near: set[int] = field(default_factory=set)  # indexes into the passages
    old: set[int] = field(default_factory=set)  # passages too old for a question about now
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # questions' embeddings, already made


@dataclass
class Scored:
    """Every quotable sentence of the passages, scored, and each passage's best."""

    sentences: list[Sentence]
    best: list[Sentence | None]  # per passage; None where it has no quotable sentence
    intent: Intent | None = None  # what the question asks for, as the scoring read it

    @property
    def relevance(self) -> list[float]:
        """Each passage's relevance as an answer: the score of its best sentence (0 where it
        has none, or is about another year than the question)."""
        return [s.score if s and not s.off_year else 0.0 for s in self.best]

    @property
    def top(self) -> Sentence | None:
        """The most relevant sentence that may answer."""
        return max(self.answering, key=lambda s: s.score, default=None)

    @property
    def answering(self) -> list[Sentence]:
        """The sentences an answer may quote."""
        return [s for s in self.sentences if not s.off_year]


def is_cut(text: str) -> bool:
    """A sentence's tail, which starts in lower case ("the Royal Government of Cambodia."): a
    chunk's or a page's edge cut its head off. (Words without a full stop are not taken for a
    cut head: they are as often a headline, which news answers with.)"""
    return text[:1].islower()


class Relevance:
    """Scores passages' sentences against a question. `idf` weighs the question's terms by the
    archive; `refusal` is the refusal sentence, which a quotable sentence must not contain;
    `vectors` remembers the passages' sentence vectors (an Assistant shares one among its answerers)."""

    def __init__(self, embedder: Embedder, idf: Callable[[str], float], refusal: str,
                 vectors: SentenceVectors | None = None) -> None:
        self.embedder = embedder
        self.vectors = vectors if vectors is not None else SentenceVectors(embedder, 0)  # 0: encoded each time
        self.idf = idf
        spec = calibrated(getattr(embedder, "name", ""))
        self.related_floor = spec.related_floor  # see `related`
        self.crosslingual_coverage = spec.crosslingual_coverage  # see `_score`
        # A passage that quotes the refusal sentence is never quoted: the answer would read as a
        # refusal that is not one.
        self._refusal = " ".join(refusal.lower().rstrip(".").split())

    def sentences(self, passages: list[Passage]) -> list[Sentence]:
        """The quotable sentences of the passages, unscored."""
        out = []
        for p, passage in enumerate(passages):
            found = units(passage.text, headings=False)
            out += [Sentence(p, pos, sent, fragment=is_cut(sent), last=pos == len(found) - 1)
                    for pos, sent in enumerate(found) if is_sentence(sent) and self._refusal not in sent.lower()]
        return out

    def score(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Scored:
        """A sentence's score adds two signals. Meaning: the cosine between the question and the
        sentence read with its document's title. Coverage: the IDF-weighted share of the
        question's terms (its frame, "how long", "according to", left out: intent.subject) that
        the sentence's passage (with its title) contains; a term the
        archive never uses weighs the most, so questions about things the archive lacks score
        low. Coverage is taken over the passage because the sentence that answers often does not
        repeat the question's words ("main contention was ..."). A year the question names is
        looked for in the passage (text, title or date; embeddings barely tell 2025 from 2022):
        a passage without it is ranked lower. The rank adds the answer-kind cues (cues.py)."""
        sents = self.sentences(passages)
        hints = hints or Hints()
        intent = hints.intent or read(question)
        if sents:
            self._score(question, passages, sents, hints, intent)
        best: list[Sentence | None] = [None] * len(passages)
        for s in sents:
            top = best[s.passage]
            if top is None or s.score > top.score:
                best[s.passage] = s
        return Scored(sents, best, intent)

    def _score(self, question: str, passages: list[Passage], sents: list[Sentence], hints: Hints,
               intent: Intent) -> None:
        said = sorted(hints.avoid)
        focus = [hints.focus] if hints.focus else []
        # The question is new each time; the sentences (and the last answer's) are remembered.
        # e5 reads the question as a query, the sentences as passages (the same for MiniLM).
        questions = [question, *focus]
        known = [hints.vectors.get(t) for t in questions]
        fresh = iter(self.embedder.encode_queries([t for t, v in zip(questions, known) if v is None]))
        own = np.stack([v if v is not None else next(fresh) for v in known])
        prior = self.vectors.encode(said)
        vectors = self.vectors.encode([titled(passages[s.passage].title, s.text) for s in sents])
        # A follow-up: mostly its expanded query, partly its own few words ("Who responded to that?").
        weights_q = np.array([1.0 - FOCUS_WEIGHT, FOCUS_WEIGHT]) if focus else np.array([1.0])
        meaning = np.clip(vectors @ own.T, 0.0, 1.0) @ weights_q
        # A question in another language than the archive's: its own stop words out, its own
        # stemmer (the names and figures it shares with the passages are what can match).
        foreign = detect(question)
        q_terms = set(terms(subject(question), foreign if foreign != "en" else None))
        weights = {t: self.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        # A year counts as covered when the document is dated in it ("this year" in a 2021 text).
        coverage = [sum(weights[t] for t in q_terms.intersection(terms(f"{p.title}\n{(p.date or '')[:4]}\n{p.text}")))
                    / total for p in passages]
        # A passage in another language than the question's cannot share its words, only its
        # names and figures: its coverage is credited with the model's calibrated value (0 for an
        # English-only model), so that its meaning decides, measured against the same gate.
        # (No credit, as for the default model: no passage's language to detect.)
        if self.crosslingual_coverage > 0:
            asked = foreign or "en"
            coverage = [max(c, self.crosslingual_coverage) if (detect(p.text) or "en") != asked else c
                        for c, p in zip(coverage, passages)]
        years = set(intent.years)
        topic_years = years | set(YEAR.findall(hints.topic))
        # A question naming several years that is answered whole (not in parts, one a year) is
        # answered by a passage of any of them.
        # The file's name counts as its title does ("state_gov_cambodia_section5_2018.md").
        named_years = [set(YEAR.findall(f"{Path(p.path).name.replace('_', ' ')}\n{p.title}\n{p.date or ''}\n{p.text}"))
                       for p in passages]
        dated = [not years or (years <= found if len(years) == 1 else bool(years & found)) for found in named_years]
        # A document dated in a year the question names is about that year; one that names the
        # year in passing ("since the previous review in 2019") may not be.
        in_year = [bool(years) and (p.date or "")[:4] in years for p in passages]
        passage_occasions = [occasions(f"{p.title}\n{p.text}") if intent.occasions else set() for p in passages]
        theirs = self._theirs(sents, intent, passages)
        # A follow-up's own new words ("troika" in "Which countries made up the troika for that
        # review?") may be answered by a sentence already given: a repeat that says them is one.
        new_terms = set(terms(hints.focus)) - set(terms(hints.topic)) if hints.focus else set()
        new_weights = {t: self.idf(t) for t in new_terms}
        new_total = sum(new_weights.values()) or 1.0
        details = []
        for i, (sent, cos) in enumerate(zip(sents, meaning)):
            sent.score = MEANING * float(cos) + COVERAGE * coverage[sent.passage]
            # The rank also weighs the sentence's own coverage: in a long list (a timeline) every
            # entry shares the passage's coverage, though few are about the question.
            words = set(terms(sent.text))
            own_terms = q_terms & words
            sent.rank = sent.score + SENTENCE_COVERAGE * sum(weights[t] for t in own_terms) / total
            lede = sent.position == 0 and passages[sent.passage].chunk == 0
            cue = cues.bonus(intent, sent.text, lede, theirs[i])
            sent.rank += cue
            sent.fits = cue >= cues.BONUS
            sent.scene = cues.sets_scene(intent, sent.text)
            sent.off_year = not dated[sent.passage]
            if in_year[sent.passage]:
                sent.rank += YEAR_DATE_BONUS
            # A date or a number asked for may sit in a sentence already given ("And by when?").
            detail = 0.5 if intent.kind in ("when", "long", "count") and cue >= cues.BONUS else 0.0
            details.append(max(detail, sum(new_weights[t] for t in new_terms & words) / new_total))
            named = entry_years(sent.text)
            if topic_years and named and not named & topic_years:
                # A dated entry (of a timeline, say) of another year: about that year. Not an
                # answer to a question naming years; for a follow-up, ranked lower.
                sent.off_year = sent.off_year or bool(years)
                sent.rank -= YEAR_RANK_PENALTY
            if intent.occasions and any(told and not told & intent.occasions for told in (
                    occasions(sent.text), passage_occasions[sent.passage])):
                sent.off_year = True  # about the third review, asked about the fourth: not an answer
            if sent.passage in hints.near:
                sent.rank += NEAR_BONUS
                sent.score += NEAR_BONUS
            if sent.passage in hints.old:
                sent.rank -= OLD_PENALTY
        self._read_bare(sents, meaning, own, weights_q, prior if said else None, details)

    @staticmethod
    def _theirs(sents: list[Sentence], intent: Intent, passages: list[Passage]) -> list[bool | None]:
        """For what-did-X-say where X has a name ("the government" has none to match): whether
        each sentence gives X's words, read passage by passage; None where that is not read.
        In X's own statement ("Statement by Cambodia in the General Debate ...") a sentence is
        X's words unless it says whose else it gives."""
        out: list[bool | None] = [None] * len(sents)
        speaker = " ".join(intent.speakers) if intent.kind == "said" else ""
        # A role asked for ("the government spokesperson"): its words are X's; another's are
        # left to the other cues (an unnamed role's holder is often named only once).
        asked, by_role = speakers.words(speaker), False
        if not asked:
            asked, by_role = speakers.roles(speaker), True
        if not asked:
            return out
        for run in _runs(sents, passages):
            theirs = not by_role and speakers.statement_by(passages[sents[run[0]].passage].title, asked)
            for i, who in zip(run, speakers.attributed([sents[i].text for i in run])):
                if who is None:
                    out[i] = True if theirs else None
                else:
                    out[i] = None if by_role and not who & asked else bool(who & asked)
        return out

    def _read_bare(self, sents: list[Sentence], meaning: np.ndarray, own: np.ndarray, weights_q: np.ndarray,
                   prior: np.ndarray | None, details: list[float]) -> None:
        """The rank reads the sentence without its title too: a short sentence of a well-titled
        document ("Issued by ...") should not lead on its title's strength. That moves a rank by
        a few hundredths, so only the BARE_TOP best are read so (each read a second time by the
        model otherwise): the rest move by the least any of those read moved, so the BARE_TOP best
        stay the best, in the order a full reading gives them. A follow-up's are all read, as
        each is checked against what the last answer said (`prior`)."""
        chosen = list(range(len(sents)))
        if prior is None and len(sents) > BARE_TOP:
            chosen = sorted(chosen, key=lambda i: -sents[i].rank)[:BARE_TOP]
        bare = self.vectors.encode([sents[i].text for i in chosen])
        alone = np.clip(bare @ own.T, 0.0, 1.0) @ weights_q
        # Repeats are judged on the sentence alone: a title shared with the last answer's source
        # would make every sentence of it look said already.
        repeats = (bare @ prior.T).max(axis=1) if prior is not None else np.zeros(len(chosen))
        shifts = [BARE_WEIGHT * MEANING * float(bare_cos - meaning[i]) for i, bare_cos in zip(chosen, alone)]
        # The rest move by the least any of those read moved, so that none rises past them.
        rest = min(shifts, default=0.0)
        for i in set(range(len(sents))) - set(chosen):
            sents[i].rank += rest
        for i, shift, repeat in zip(chosen, shifts, repeats):
            sents[i].rank += shift
            # Saying again what the last answer said (in its words or others') is no answer to a
            # follow-up; a detail asked for in a sentence already given (a date, a number, the
            # follow-up's own new words): less so.
            sents[i].rank -= REPEAT_WEIGHT * max(0.0, float(repeat) - REPEAT_FROM) * (1.0 - details[i])

    def relevance(self, question: str, passages: list[Passage]) -> list[float]:
        """Each passage's relevance to the question (Scored.relevance)."""
        return self.score(question, passages).relevance


def _runs(sents: list[Sentence], passages: list[Passage]) -> list[list[int]]:
    """The sentences' indices as a reader meets them: a passage's in order, and a passage that
    is the next chunk of another one here read on after it, so that a quotation the chunk's edge
    cut from its speaker ("..., he said") is still theirs."""
    by_passage: dict[int, list[int]] = {}
    for i, s in enumerate(sents):
        by_passage.setdefault(s.passage, []).append(i)
    runs: list[list[int]] = []
    last: Passage | None = None
    for p in sorted(by_passage, key=lambda p: (passages[p].doc_id, passages[p].chunk)):
        follows = last is not None and last.doc_id == passages[p].doc_id and passages[p].chunk == last.chunk + 1
        if follows:
            runs[-1] += by_passage[p]
        else:
            runs.append(list(by_passage[p]))
        last = passages[p]
    return runs


def related(passages: list[Passage], scored: Scored, floor: float = RELATED_FLOOR) -> list[Citation]:
    """For a refusal: the passages that came closest (at most RELATED, from `floor` up: RELATED_FLOOR
    for the default embedding model, each model's own otherwise), each opening at its closest
    sentence, so that a reader can look for themselves."""
    near = sorted((s for s in scored.best if s is not None and s.score >= floor), key=lambda s: -s.score)
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

"""Is each sentence of an answer supported by the passages it cites?

A sentence's support from one passage adds two signals, each 0-1:
  - meaning: the best cosine (embedding model) between the sentence and any sentence of the
    passage, or any two neighbouring sentences (a claim often merges two);
  - overlap: the share of the sentence's content words (stemmed, stop words out) that the
    passage (with its title) contains; a number or name the passage lacks lowers it.
support = MEANING * meaning + (1 - MEANING) * overlap, the best over the cited passages.
A sentence that cites nothing has support 0. The threshold (`support_threshold`) and MEANING
were chosen on dev data: evals/support.py, results in evals/results/support-calibration.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.answering.citations import MARKER
from assistant.index.embedding import Embedder
from assistant.index.keyword import terms
from assistant.index.sentence_vectors import SentenceVectors
from assistant.index.text import units
from assistant.types import Citation, Claim

MEANING = 0.3
_SPACE_PUNCT = re.compile(r"\s+([.,;:!?])")
# The extractive answer writes each source's date after its marker: "... [1] (16 Aug 2023)".
_DATE_AFTER = re.compile(r"\s*\((?:\d{1,2} )?(?:[A-Z][a-z]{2} )?\d{4}\)")
_DATED = re.compile(rf"(\[\d+\]){_DATE_AFTER.pattern}")


def split_claims(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, the [n] it cites) for each sentence of an answer. A marker
    that opens a sentence ("... report. [1] Next") belongs to the sentence before it."""
    out: list[tuple[str, list[int]]] = []
    for unit in units(text, keep_markers=True):
        lead = re.match(rf"(?:\s*\[\d+\](?:{_DATE_AFTER.pattern})?)+", unit)
        if lead and out:
            out[-1][1].extend(int(n) for n in re.findall(r"\[(\d+)\]", lead.group()))
            unit = unit[lead.end():]
        cites: list[int] = []
        for m in MARKER.finditer(unit):
            cites.extend(int(n) for n in re.findall(r"\d+", m.group(2)))
        clean = _SPACE_PUNCT.sub(r"\1", " ".join(MARKER.sub("", _DATED.sub(r"\1", unit)).split())).strip()
        if clean.strip(" .,;:!?-"):
            out.append((clean, cites))
        elif out and cites:
            out[-1][1].extend(cites)
    return [(t, list(dict.fromkeys(c))) for t, c in out]


@dataclass
class Support:
    score: float
    meaning: float
    overlap: float
    sentences: list[str]  # the passage's sentence (or two) closest in meaning


class Verifier:
    def __init__(self, embedder: Embedder, threshold: float, meaning: float = MEANING,
                 vectors: SentenceVectors | None = None) -> None:
        self.embedder = embedder
        # The passages' sentences (and pairs) are remembered where given; claims are new.
        self.vectors = vectors if vectors is not None else SentenceVectors(embedder, 0)
        self.threshold = threshold
        self.meaning = meaning

    def support(self, claims: list[str], passages: list[tuple[str, str]]) -> list[list[Support]]:
        """support[i][j]: how well passage j, a (title, text) pair, supports claim i."""
        windows: list[list[list[str]]] = []
        for _title, text in passages:
            sents = units(text) or [text]
            windows.append([[a] for a in sents] + [[a, b] for a, b in zip(sents, sents[1:])])
        flat = [" ".join(w) for ws in windows for w in ws]
        vecs = np.concatenate([self.embedder.encode(claims), self.vectors.encode(flat)])
        sims = np.clip(vecs[: len(claims)] @ vecs[len(claims):].T, 0.0, 1.0)
        p_terms = [set(terms(f"{title}\n{text}")) for title, text in passages]
        out: list[list[Support]] = []
        for i, claim in enumerate(claims):
            c_terms = set(terms(claim))
            row, start = [], 0
            for j, ws in enumerate(windows):
                block = sims[i, start:start + len(ws)]
                start += len(ws)
                best = int(block.argmax())
                overlap = len(c_terms & p_terms[j]) / len(c_terms) if c_terms else 0.0
                score = self.meaning * float(block[best]) + (1 - self.meaning) * overlap
                row.append(Support(score, float(block[best]), overlap, ws[best]))
            out.append(row)
        return out

    def check(self, text: str, citations: list[Citation]) -> list[Claim]:
        """The answer's claims, each scored against the passages it cites; fills each citation's
        `supporting` with the passage sentences that support a claim."""
        parts = split_claims(text)
        if not parts:
            return []
        by_n = {c.n: c for c in citations}
        numbers = sorted(by_n)
        table = self.support([t for t, _ in parts], [(by_n[n].title, by_n[n].text) for n in numbers]) \
            if numbers else [[] for _ in parts]
        claims = []
        for (sentence, cites), row in zip(parts, table):
            cites = [n for n in cites if n in by_n]
            best = [(row[numbers.index(n)], n) for n in cites]
            score = max((s.score for s, _ in best), default=0.0)
            claims.append(Claim(sentence, cites, round(score, 3), bool(cites) and score >= self.threshold))
            for s, n in best:
                if s.score >= self.threshold:
                    by_n[n].supporting.extend(x for x in s.sentences if x not in by_n[n].supporting)
        return claims

"""Does a generated answer say that it cannot answer? (the refusal sentence or a paraphrase)

A sentence counts as a refusal when it contains the refusal sentence itself, says so outright
("I don't know", "cannot answer"), or denies something about the sources ("the passages do
not mention ...", "no information is provided"). The answerer marks an answer `refused` only
when it also has no supported claim, so "There was no information on the detainees [1]",
quoted from a passage, is not a refusal.
"""

from __future__ import annotations

import re

_OUTRIGHT = re.compile(
    r"\b(?:i (?:do not|don't|cannot|can't) (?:know|answer|say|tell|find)|"
    r"(?:cannot|can't|can not|unable to|not able to|impossible to) (?:be )?(?:answer|determine|tell|say|find|know)|"
    r"no (?:answer|information|mention|details?|data|evidence) (?:is |was )?"
    r"(?:given|provided|available|found|about|on|regarding|of)|"
    r"(?:is|are) not (?:mentioned|stated|provided|specified|given|available|found|covered|included|known)|"
    r"(?:do|does|did) not (?:hold|contain|provide|include|mention|say|specify|state|give|answer|address|cover)|"
    r"(?:doesn't|don't|didn't) (?:hold|contain|provide|include|mention|say|specify|state|give|answer|address|cover))\b",
    re.I)
_SOURCES = re.compile(r"\b(?:passages?|archive|context|documents?|sources?|texts?|information|reports?|"
                      r"articles?|records?|question)\b", re.I)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _norm(text: str) -> str:
    return _NON_ALNUM.sub(" ", text.lower()).strip()


def is_refusal_sentence(sentence: str, refusal: str) -> bool:
    if _norm(refusal) and _norm(refusal) in _norm(sentence):
        return True
    m = _OUTRIGHT.search(sentence)
    if not m:
        return False
    # "cannot answer" / "I don't know" stand alone; a denial must be about the sources.
    outright = re.match(r"(?i)i |cannot|can't|can not|unable|not able|impossible", m.group())
    return bool(outright) or bool(_SOURCES.search(sentence))


def says_cannot_answer(sentences: list[str], refusal: str) -> bool:
    """True when any sentence of the answer is a refusal."""
    return any(is_refusal_sentence(s, refusal) for s in sentences)

"""Whose words a sentence gives, read as a reader follows a news story: the name beside "said"
("Chounsry said", "said Phil Robertson", "according to Ath"), the last one named for a
pronoun ("he said", "This, he believed, ..."), and for a quotation that runs over several
sentences, the name at its close ("“Cambodia is faced with a pervasive paradox. Since 2017
...,” Muntarbhorn said.").

For a what-did-X-say question, X's words are the answer and another's are not, though they
may name X ("Senior officials said they welcome the visit of Vitit Muntarbhorn"). A role
counts where no name is asked: "the spokesperson said", and the one introduced in that role
("government spokesperson Dario Vensk") when named again. A sentence whose speaker cannot be
read (a report: "the study found") is left to the other cues.
"""

from __future__ import annotations

import re

_VERBS = (r"(?:said|says|told|noted|added|stated|stressed|argued|insisted|warned|urged|explained|replied|"
          r"responded|answered|wrote|declared|announced|believed|believes|pointed out|underlined|"
          r"emphasi[sz]ed|claimed|observed|remarked|concluded|found|agreed|disagreed|accepted|rejected|"
          r"denied|disputed|confirmed|described)")
_NAME = r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,3}"
# "Chin Malin, secretary of state of the Ministry of Justice, said"; "Senior Cambodian officials said".
# ... and "Amara Veldt of the Marvala Rights Watch League said": hers, for the League.
_BEFORE = re.compile(rf"\b({_NAME})(?:\s+(?:of|from|at|for)\s+(?:the\s+)?{_NAME})?"
                     rf"(?:,[^,“”\"]{{1,100}},|(?:\s+[a-z]+){{0,2}}),?\s+(?:also\s+|further\s+)?{_VERBS}\b")
# "” said Phil Robertson"; not "told Reuters", whose name is the one told.
_AFTER = re.compile(rf"[,”\"]\s*(?!told){_VERBS}\s+({_NAME})")
_ACCORDING = re.compile(rf"\b(?i:according to) (?:the\s+)?({_NAME})")
_OPENING = re.compile(rf"^({_NAME})(?:,[^,“”\"]{{1,100}},)?(?=\s+[a-z])")
# A role a person speaks in: "the spokesperson said", "government spokesperson Dario Vensk".
_ROLE = (r"(?:spokes(?:person|man|woman)|minister|rapporteur|ambassador|president|director|commissioner|"
         r"envoy|secretary|chair(?:man|woman|person)?)")
_ROLE_SAID = re.compile(rf"\b(?:the|a|an|its|their|his|her)\s+(?:[\w'’-]+\s+){{0,3}}?{_ROLE}\b,?\s+"
                        rf"(?:also\s+|further\s+)?{_VERBS}\b", re.I)
# ... in either case: "Foreign Minister Tamsin Orvell"
_ROLE_NAME = re.compile(rf"\b(?i:{_ROLE})\s+((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?{_NAME})")
_PRONOUN = re.compile(rf"\b(?:he|she|they)\b,?\s+(?:also\s+|further\s+)?{_VERBS}\b", re.I)
_NOT_NAMES = {"The", "A", "An", "In", "On", "At", "But", "However", "Yet", "And", "So", "Asked", "This", "That",
              "It", "He", "She", "They", "We", "I", "UN", "Mr", "Ms", "Mrs", "Dr", "His", "Her", "Their"}
_OPEN, _CLOSE = "“", "”"


def words(name: str) -> set[str]:
    """A name's own words: its capitalised words of three letters or more, titles left out."""
    return {w for w in re.findall(r"\b[A-Z][\w'’-]{2,}", name) if w not in _NOT_NAMES}


# A document that gives one speaker's words: "Statement by Cambodia in the General Debate ...".
_STATEMENT = re.compile(r"\b(?:statement|speech|address|remarks|message|letter|submission|reply|press release)\s+"
                        r"(?:by|of|from)\s+(?:the\s+)?(.+)", re.I)


def statement_by(title: str, asked: set[str]) -> bool:
    """Is the document, by its title, the statement of the one whose name's words are `asked`?"""
    m = _STATEMENT.search(title)
    if m is None or not asked:
        return False
    return {_bare(w) for w in asked} <= {_bare(w) for w in words(m.group(1))}


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def roles(text: str) -> set[str]:
    """The roles a text names, one word each ("spokesman" and "spokeswoman" are "spokesperson")."""
    return {re.sub(r"^spokes\w*", "spokesperson", re.sub(r"^chair\w*", "chair", r.lower()))
            for r in re.findall(rf"\b{_ROLE}\b", text, re.I)}


def attributed(sentences: list[str]) -> list[set[str] | None]:
    """For each of a passage's sentences, in order, the words of the name whose words it
    gives, or None where that cannot be read. One introduced as speaking for a body ("Osric
    Pennant, who leads the League, replied") speaks for it again when named alone ("Pennant said")."""
    out: list[set[str] | None] = [_named(s) for s in sentences]
    last: set[str] | None = None
    known: dict[str, set[str]] = {}  # a name's word -> whom it speaks for, once said ("Pennant said")
    for i, text in enumerate(sentences):
        for m in (_BEFORE.search(text), _OPENING.match(text)):
            said = m and (words(m.group(0)) | roles(m.group(0)[len(m.group(1)):]))
            if m and said and said > words(m.group(1)):
                known.update(dict.fromkeys(words(m.group(1)), said))
        # ... or in a role before the name ("government spokesperson Dario Vensk answered").
        for m in _ROLE_NAME.finditer(text):
            for w in words(m.group(1)):
                known[w] = known.get(w, words(m.group(1))) | roles(m.group(0))
        named = out[i]
        if named:
            out[i] = named.union(*(known.get(w, set()) for w in named))
        if out[i] is None and _PRONOUN.search(text):
            out[i] = last
        if out[i] is None and _opens_quote(text):
            out[i] = _closing(sentences, i, last)
            if out[i] is None and i and out[i - 1] is not None and _unclosed(sentences, i):
                out[i] = out[i - 1]  # cut by the passage's end: the one who spoke just before
        who = out[i] or _subject(text)
        if who:
            last = who
        # A quotation's inner sentences are its speaker's too.
        if _opens_quote(text) and out[i]:
            for j in range(i + 1, min(i + 4, len(sentences))):
                if out[j] is None:
                    out[j] = out[i]
                if _closes_quote(sentences[j]):
                    break
    return out


def opens_quote(text: str) -> bool:
    """Does the sentence open a quotation that a later sentence closes?"""
    return _opens_quote(text)


def _named(text: str) -> set[str] | None:
    """The words of the one who speaks, with those of the body they speak for where the
    sentence says so before its verb ("Amara Veldt, executive director of the League, said")."""
    for pattern in (_AFTER, _BEFORE, _ACCORDING):
        m = pattern.search(text)
        if m and words(m.group(1)):
            return words(m.group(0) if pattern is _BEFORE else m.group(1))
    m = _ROLE_SAID.search(text)  # a role alone: "the spokesperson said"
    return roles(m.group(0)) if m else None


def _subject(text: str) -> set[str] | None:
    """A name that opens the sentence as its subject ("Orvell did not mention ..."): whom a
    "she said" after it means."""
    m = _OPENING.match(text)
    return words(m.group(0)) or None if m else None


def _closing(sentences: list[str], i: int, last: set[str] | None) -> set[str] | None:
    """The speaker named where the quotation that sentence `i` opens is closed (`last`, the
    one named before, for "...,” he said")."""
    for j in range(i + 1, min(i + 4, len(sentences))):
        if _closes_quote(sentences[j]):
            return _named(sentences[j]) or (last if _PRONOUN.search(sentences[j]) else None)
        if _OPEN in sentences[j]:
            return None
    return None


def _unclosed(sentences: list[str], i: int) -> bool:
    """Does the quotation that sentence `i` opens run past the last sentence given?"""
    return not any(_closes_quote(t) or _OPEN in t for t in sentences[i + 1:])


def _opens_quote(text: str) -> bool:
    straight = text.count('"') % 2 == 1 and text.lstrip().startswith('"')
    return text.count(_OPEN) > text.count(_CLOSE) or straight


def _closes_quote(text: str) -> bool:
    straight = text.count('"') % 2 == 1 and not text.lstrip().startswith('"')
    return text.count(_CLOSE) > text.count(_OPEN) or straight

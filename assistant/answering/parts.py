"""A question of several parts, each answered on its own under a short label: one per year in
"in 2020 and in 2023", one per name in "what did X and Y say" or "compare X with Y", one per
occasion in "at its first UPR compared with its second", and the two sides of "A according to
the League's report, compared with what OHCHR found". Read from the wording, without a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.intent import YEAR, Intent, read, subject
from assistant.index.keyword import stopwords

# "A and B" where both sides are names: capitalised words, optionally after "the"/"its".
_WORD = r"[A-Z][\w'’.-]*"
_NAME = rf"(?:(?:the|its|their)\s+)?{_WORD}(?:\s+(?:of\s+|for\s+|on\s+)?{_WORD})*"
_NAME_PAIR = re.compile(rf"(?<![\w'’])({_NAME})\s*(?:,\s*({_NAME})\s*,?)?\s+(?:and|with|versus|vs\.?)\s+"
                        rf"({_NAME})(?![\w'’])")
_YR = r"(?:1[6-9]|20)\d\d"
_YEAR_PAIR = re.compile(rf"\b((?:in\s+)?)({_YR})((?:\s*,\s*(?:in\s+)?{_YR})*)\s+"
                        rf"(?:and|with|versus|vs\.?|compared (?:with|to))\s+(?:in\s+)?({_YR})\b", re.I)
# "at its 2009 review and at its 2014 review": a year pair, each year with the same noun.
_YEAR_NOUN_PAIR = re.compile(rf"\b({_YR})\s+([\w'’-]+)\s+(?:and|or|versus|vs\.?|compared (?:with|to))\s+"
                             rf"(?:(?:at|in|on|for|from)\s+)?(?:(?:its|the|their|his|her)\s+)?({_YR})\s+\2\b", re.I)
_ORDINAL = r"(?:first|second|third|fourth|fifth|sixth|last|previous|next|latest)"
_ORDINAL_PAIR = re.compile(rf"\b((?:(?:at|in|on|for)\s+)?(?:its|the|their)\s+)({_ORDINAL})\s+"
                           rf"(?:and|or|with|versus|vs\.?)\s+(?:(?:at|in|on|for)\s+)?(?:its|the|their\s+)?\s*"
                           rf"({_ORDINAL})\b", re.I)
# "at its first UPR compared with its second": the noun said once, after the first.
_ORDINAL_NOUN_PAIR = re.compile(rf"\b((?:(?:at|in|on|for)\s+)?(?:its|the|their)\s+)({_ORDINAL})"
                                rf"(\s+[\w'’-]+(?:\s+[\w'’-]+)?)"
                                rf",?\s+(?:and|or|versus|vs\.?|compared (?:with|to))\s+(?:(?:at|in|on|for)\s+)?"
                                rf"(?:its|the|their)\s+({_ORDINAL})\b", re.I)
_COMPARE_WITH = re.compile(r"^\s*how (?:did|does|do|has|have|was|were)\s+(.+?)\s+compare(?:d)?\s+(?:with|to|against)\s+"
                           r"(.+?)\s*\??\s*$", re.I)
# "How long ... according to the League's 2021 report, compared with what OHCHR found in 2023?"
_COMPARED_CLAUSE = re.compile(r"^\s*(.+?),?\s+(?:compared (?:with|to)|as against|as opposed to)\s+(.+?)\s*\??\s*$",
                              re.I)
_EACH_ACTS = re.compile(r"^\s*compare\b|\b(?:compare[sd]?|differ\w*|versus|vs\.?)\b|"
                        r"\b(?:did|do|does|have|has)\b.+\b(?:say|said|tell|state|claim|argue|respond|react|reply|"
                        r"answer|view|see|describe|think|call)\b", re.I)
_BETWEEN = re.compile(r"\b(?:between|from)\s+(?:1[6-9]|20)\d\d\s+(?:and|to)\s+(?:1[6-9]|20)\d\d\b", re.I)
_COMPARE = re.compile(r"^\s*compare\s+", re.I)
_QUESTION_WORDS = {"What", "Who", "When", "Why", "How", "Which", "Where", "Did", "Does", "Do", "Is", "Are", "Was",
                   "Were", "Compare", "And", "The", "In", "On", "Has", "Have", "Can"}


@dataclass
class Part:
    """One part of a question to answer on its own, under `label` (empty for a whole question)."""

    label: str
    question: str


def read_part(part: Part, whole: Intent) -> Intent:
    """A part's intent: its own wording's, else the whole question's kind, which rewording a
    part can lose ("How did A's view compare with B's?" asks, of each part, what it said),
    with the part's label for the speaker."""
    own = read(part.question)
    if own.kind or not whole.kind:
        return own
    own.kind = whole.kind
    if whole.kind == "said" and part.label:
        own.speakers = [part.label]
    return own


def parts(question: str) -> list[Part]:
    """The question's parts: one per year in "in 2020 and (in) 2023", one per name in "what did
    X and Y say" or "compare X with Y"; a range ("between 2019 and 2023") is one part."""
    if not _BETWEEN.search(question):
        m = _YEAR_PAIR.search(question)
        if m:
            years = YEAR.findall(m.group(0))
            return [Part(y, _clean(question[:m.start()] + m.group(1) + y + question[m.end():])) for y in years]
        m = _YEAR_NOUN_PAIR.search(question)
        if m:
            return [Part(y, _clean(f"{question[:m.start()]}{y} {m.group(2)}{question[m.end():]}"))
                    for y in (m.group(1), m.group(3))]
    m = _COMPARE_WITH.search(question)
    if m:
        return _compared(m.group(1), m.group(2))
    m = _ORDINAL_PAIR.search(question)
    if m:
        return [Part(o.capitalize(), _clean(question[:m.start()] + m.group(1) + o + question[m.end():]))
                for o in (m.group(2), m.group(3))]
    m = _ORDINAL_NOUN_PAIR.search(question)
    if m:
        # "its first UPR, compared with its second in 2014": the year is the second's alone.
        year = re.match(rf"\s+in\s+{_YR}\b", question[m.end():])
        tail = question[m.end() + (year.end() if year else 0):]
        return [Part(o.capitalize(), _clean(question[:m.start()] + m.group(1) + o + m.group(3) + own + tail))
                for o, own in ((m.group(2), ""), (m.group(4), year.group() if year else ""))]
    m = _COMPARED_CLAUSE.search(question)
    if m:  # the first clause is a question of its own; the second borrows its topic
        return [Part(p.label, _clean(p.question)) for p in _compared(m.group(1), m.group(2), asked=True)]
    # Names are parts only where each acts on its own ("what did X and Y say", "compare X with
    # Y"): "Which products did CVS, Rite Aid and Target pull?" asks one question of a list.
    if not _EACH_ACTS.search(question):
        return [Part("", question)]
    for m in _NAME_PAIR.finditer(question):
        names = [n for n in m.groups() if n]
        head = _drop_question_words(names[0])
        start = m.start() + len(names[0]) - len(head)
        names[0] = head
        if not head or any(n.split()[0] in _QUESTION_WORDS for n in names[1:]):
            continue
        if re.search(r" (?:of|on|for) ", head) and not re.match(r"(?:the|its|their)\s", names[-1], re.I):
            continue  # "the Ministry of Foreign Affairs and International Cooperation": one name
        return [Part(_label(n), _clean(question[:start] + n + question[m.end():])) for n in names]
    return [Part("", question)]


def _compared(first: str, second: str, asked: bool = False) -> list[Part]:
    """"How did A compare with B?": a part about A and one about B. B often leaves out what A
    says ("the League's view of X ... with the Committee's"): it borrows it. Where A names its
    source ("how long ... according to the League's 2021 report"), B is A with B for the source;
    else B borrows A's topic words. `asked`: A is a question of its own, B is put as one too."""
    head = re.search(r"['’]s\s+(.+)$", first)
    source = _SOURCE.search(first)
    own = f"What about {first}?"
    if re.search(r"['’]s?$", second) and head:
        other = f"What about {second} {head.group(1)}?"
    elif source:
        body = " ".join(f"{first[:source.start()]} according to {second} {first[source.end():]}".split())
        other = f"{body.rstrip('?')}?" if asked else f"What about {body}?"
    else:
        missing = [w for w in _topic_words(subject(first)) if w.lower() not in second.lower()]
        other = f"What about {second} ({' '.join(missing)})?" if missing else f"What about {second}?"
    return [Part(_short_label(first), first.rstrip("?") + "?" if asked else own), Part(_short_label(second), other)]


_SOURCE = re.compile(r"\b(?:(?:according to|in|by|from)\s+)?(?:the\s+)?(?:[A-Z][\w-]*\s+)*[A-Z][\w-]*['’]s?\s+"
                     r"(?:(?:1[6-9]|20)\d\d\s+)?(?:report|study|statement|survey|review|findings|account|view)s?\b")


def _topic_words(text: str) -> list[str]:
    stop = stopwords()
    return [w for w in re.findall(r"[\w'’-]+", text) if w.lower() not in stop and not YEAR.fullmatch(w)]


def _short_label(part: str) -> str:
    """A part's label: the year it names and its source's name ("the League's 2021 report"), else
    its first name, else its first words."""
    year = YEAR.search(part)
    source = _SOURCE.search(part)
    if source:
        part = source.group()
    names = [n for n in re.findall(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*", part) if n not in _QUESTION_WORDS]
    label = " ".join(x for x in (re.sub(r"['’]s$", "", names[0]) if names else "", year.group() if year else "") if x)
    return label or " ".join(part.split()[:4])


def _drop_question_words(name: str) -> str:
    """"Compare Marvala" -> "Marvala": a capitalised question word is not part of a name."""
    words = name.split()
    while words and words[0] in _QUESTION_WORDS and words[0] != "The":
        words.pop(0)
    return " ".join(words)


def _label(name: str) -> str:
    return re.sub(r"^(?:the|its|their)\s+", "", name, flags=re.I)


def _clean(question: str) -> str:
    """A part's question: "Compare X" read as a question about X, spaces tidied."""
    question = " ".join(question.split())
    if _COMPARE.match(question):
        question = "What about " + _COMPARE.sub("", question).rstrip("?.") + "?"
    return question

"""What a question asks for, read from its wording without a model: the kind of answer it
wants (a reason, a person or body, a date, a duration, a number, someone's words, what they
asked others to do), the years it names, what is its frame rather than its subject,
and whether it refers back to an earlier turn. (Whether it has several parts to answer apart,
"in 2020 and in 2023", "what did X and Y say": parts.py.)

Every rule here is a preference the answerer weighs, never a gate: a question read wrongly
still gets the passages' most relevant sentences, only in a less helpful order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

YEAR = re.compile(r"\b(?:1[6-9]|20)\d\d\b")
_KINDS = (
    ("why", re.compile(r"^\s*(?:and\s+)?why\b|\bhow (?:did|does|do|has|have|could|can|would) .+ "
                       r"(?:justify|justified|explain|defend)\b|\b(?:reasons?|grounds|cause) (?:for|why|of)\b|"
                       r"\bwhat (?:was|were|is|are) the (?:reasons?|grounds|cause)\b|"
                       r"\bwhat (?:was|were|is|are) (?:the|his|her|their|its) (?:main|central|chief|principal|"
                       r"primary|key|major|biggest) (?:concerns?|objections?|complaints?|criticisms?|grievances?)\b",
                       re.I)),
    ("count", re.compile(r"\bhow (?:many|much)\b|\bwhat (?:number|share|percentage|proportion)\b|\bwhat is the "
                         r"(?:population|number|total|size)\b", re.I)),
    # How long something lasted, or the period a report covers: a duration or a span of dates.
    ("long", re.compile(r"\bhow long\b|\b(?:what|which) (?:time )?periods?\b|\bfor what (?:time|period)\b", re.I)),
    ("when", re.compile(r"^\s*(?:and\s+)?(?:(?:by|since|until|till|from)\s+)?when\b|"
                        r"\bwhat (?:date|day|year|month)\b|\bin which year\b|\bon what date\b", re.I)),
    # What someone asked of others: "What did the report ask the government to do?", "What had
    # the rapporteur recommended?", "What were its recommendations?"
    ("recommend", re.compile(r"\bwhat (?:did|does|do|had|has|have) .+ (?:ask|urge|recommend|propose|call on|"
                             r"call for|call upon|demand|want)\w*\b|\bwhat (?:were|are|was|is) (?:the|its|their|his|"
                             r"her) (?:main |key |chief )?(?:recommendations?|demands?|requests?|proposals?)\b", re.I)),
    ("said", re.compile(r"\bwhat (?:did|had|has|have) .+ (?:say|said|tell|told|state|claim|argue|call|write|note|"
                        r"add)\b|"
                        r"\bwhat (?:does|do) .+ (?:say|claim|argue)\b|"
                        r"\bhow did .+ (?:respond|react|reply|answer|view|see|regard|judge|assess|describe)\b|"
                        r"\bwhat did .+ think\b|"
                        # "How did X and Y differ in what they said about ...?"
                        r"\bin what (?:they|he|she|it|each) (?:said|say|told|stated|wrote)\b|"
                        # "Did the Committee agree that ...?": what it said or found answers it.
                        r"^\s*(?:and\s+)?(?:did|does|do|has|have)\s+.+?\s+(?:agree|disagree|accept|dispute|deny|"
                        r"confirm|support|oppose|endorse)\b", re.I)),
    ("who", re.compile(r"^\s*(?:and\s+)?(?:who|whom|whose)\b|\bwho\b|\bwhich (?:persons?|people|officials?|"
                       r"ministers?|groups?|organi[sz]ations?|bod(?:y|ies)|ministr(?:y|ies)|agenc(?:y|ies)|ngos?)\b",
                       re.I)),
)
# Words that point back into the conversation ("Who criticised that decision?").
_REFERRING = {"that", "this", "those", "these", "it", "its", "they", "them", "their", "he", "him",
              "his", "she", "her", "there", "then", "such"}
_OPENERS = re.compile(r"^\s*(?:and|also|what about|how about|but|so)\b", re.I)
_PRESENT = re.compile(r"^\s*(?:what|who|how many|how much|which|where)\s+(?:is|are|does|do|has|have)\b|"
                      r"\b(?:currently|today|now|at present|nowadays)\b", re.I)


_NUMBERED = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth", "6th": "sixth"}
# "its fourth UPR", "the third-cycle review", "her second visit": which of a series is meant.
_OCCASION = re.compile(r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|1st|2nd|3rd|[4-8]th)[\s-]+"
                       r"(?:[\w'’-]+\s+){0,2}?(?:reviews?|upr|cycles?|reports?|sessions?|missions?|visits?|terms?|"
                       r"mandates?|elections?|periodic)\b", re.I)


def occasions(text: str) -> set[str]:
    """The ordinals of the reviews, reports, visits ... a text names ("fourth" in "at its 4th UPR")."""
    return {_NUMBERED.get(m.lower(), m.lower()) for m in _OCCASION.findall(text)}


@dataclass
class Intent:
    kind: str  # why, who, when, long (a duration or period), count, recommend, said, or "" (anything else)
    years: list[str] = field(default_factory=list)
    present: bool = False  # asks how things are now ("What is the population ...?")
    speakers: list[str] = field(default_factory=list)  # the names in "what did X say"
    action: str = ""  # what the one asked for did: "responded" in "Who responded to that?"
    deadline: bool = False  # asks by when something is to be done ("And by when?")
    occasions: set[str] = field(default_factory=set)  # which of a series it names: "fourth" UPR


# "Who responded", "Who was appointed", "Who has chaired": the verb the person asked for did.
_WHO_DID = re.compile(r"\bwho\s+(?:(?:is|was|were|are|has|had|have)\s+(?=\w+ed\b))?([a-z]+)\b", re.I)
_DEADLINE = re.compile(r"\b(?:by|until|till)\s+when\b|\bdeadline\b", re.I)
_NOT_ACTIONS = {"is", "was", "were", "are", "has", "had", "have", "did", "does", "do", "will", "would", "could",
                "can", "should", "may", "might", "the", "a", "an", "in", "of", "to"}


# Whose words ("What did X say"), or whose recommendations ("What did New Zealand ask ... to do").
_SPEAKER = {
    "said": re.compile(r"\b(?:did|does|do|had|has|have)\s+(.+?)\s+(?:differ\w*\s+in\s+what\s+\w+\s+)?"
                       r"(?:say|said|tell|state|claim|argue|call|write|note|add|respond|react|reply|answer|view|"
                       r"see|regard|judge|assess|describe|think|agree|disagree|accept|dispute|deny|confirm|"
                       r"support|oppose|endorse)\b", re.I),
    "recommend": re.compile(r"\b(?:did|does|do|had|has|have)\s+(.+?)\s+(?:ask|urge|recommend|propose|call|demand|"
                            r"want)", re.I),
}


def read(question: str) -> Intent:
    kind = next((name for name, pattern in _KINDS if pattern.search(question)), "")
    years = list(dict.fromkeys(YEAR.findall(question)))
    asker = _SPEAKER.get(kind)
    m = asker.search(question) if asker else None
    speakers = [m.group(1)] if m else []
    did = _WHO_DID.search(question) if kind == "who" else None
    action = did.group(1).lower() if did and did.group(1).lower() not in _NOT_ACTIONS else ""
    action = _when_did(question) if kind == "when" else action
    deadline = kind == "when" and bool(_DEADLINE.search(question))
    return Intent(kind, years, bool(_PRESENT.search(question)) and not years, speakers, action, deadline,
                  occasions(question))


_WHEN_AUX = re.compile(r"\bwhen\s+(?:did|does|do|was|were|is|are|has|have|had|will)\s+(.+)$", re.I)
_DETERMINERS = {"the", "a", "an", "its", "their", "his", "her", "this", "that", "these", "those"}


def _when_did(question: str) -> str:
    """The verb of "When did the CHRC submit ...?" ("submit"): the first lower-case word after
    the subject, or the second where two follow each other ("When did parliament pass ...")."""
    m = _WHEN_AUX.search(question)
    if not m:
        return ""
    words = re.findall(r"[\w'’-]+", m.group(1))
    plain = [i for i, w in enumerate(words) if w.islower() and w not in _DETERMINERS | _REFERRING | _NOT_ACTIONS]
    if plain and words[plain[0]] in ("say", "said", "tell", "told"):  # "... did he say X had to respond"
        plain = plain[1:]
    if not plain:
        return ""
    first = plain[0]
    return words[first + 1] if first + 1 in plain else words[first]


# the verb of "what did X say" and of "what the Committee found". A passage that lacks these
# words lacks nothing the question is about.
_FRAME = re.compile(r"\bhow (?:long|often|far|soon)\b|\baccording to\b|\bcompar(?:e|ed|es|ing|ison)\b|"
                    r"\bdiffer(?:ed|s|ence|ences)?\b|"
                    r"\bin what (?:they|he|she|it|each) (?:said|say|told|stated|wrote)\b", re.I)
_SAID_VERB = re.compile(r"(\b(?:did|does|do|had|has|have)\s+[^?]+?\s+)(?:say|tell|state|claim|argue|respond|react|"
                        r"reply|answer|view|see|regard|judge|assess|describe|think|ask|urge|recommend|propose|"
                        r"demand)\w*\b", re.I)
_WHAT_VERB = re.compile(r"(\bwhat\s+(?:[\w'’-]+\s+){1,5}?)(?:found|concluded|reported|said|wrote|stated)\b", re.I)


def subject(question: str) -> str:
    """The question without its frame: the words whose presence in a passage makes it relevant."""
    return _WHAT_VERB.sub(r"\1", _SAID_VERB.sub(r"\1", _FRAME.sub(" ", question)))


# ... of which these stand for a thing or person ("that" is as often a conjunction: "agree that").
_PRONOUNS = {"it", "its", "they", "them", "their", "he", "him", "his", "she", "her", "this", "these", "those"}


def points_back(question: str) -> bool:
    """Does the question use a pronoun that points into the conversation ("before it came out")?"""
    return bool(set(re.findall(r"[a-z']+", question.lower())) & _PRONOUNS)


def with_speaker_from(wanted: Intent, topic: str) -> Intent:
    """`wanted` with a speaker named by a pronoun ("What had she said?") named from the earlier
    turns' words `topic`: its first name of two or more words, else its first capitalised one."""
    if not wanted.speakers or wanted.speakers[0].lower() not in _PRONOUNS:
        return wanted
    names = re.findall(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)+", topic) or re.findall(r"\b[A-Z][\w'’-]*", topic)
    return replace(wanted, speakers=[re.sub(r"['’]s$", "", names[0])]) if names else wanted


def refers_back(question: str) -> bool:
    """Does the question lean on an earlier turn ("Who responded to that?", "And in 2020?")?"""
    words = set(re.findall(r"[a-z']+", question.lower()))
    return bool(words & _REFERRING) or bool(_OPENERS.match(question)) or len(words) <= 3

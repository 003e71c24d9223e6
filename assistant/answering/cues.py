"""Does a sentence give the kind of answer the question wants? A small bonus to its rank when
it does: a reason or verdict for why, a named person or body for who, a date for when, a
duration or span of dates for how long, a number for how many, someone's words for
what-did-X-say, a recommendation for what-did-X-ask-for. The bonus orders sentences (the
direct answer first); it never lets a sentence past the refusal gate, which reads the plain
relevance score.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.answering import speakers
from assistant.answering.intent import Intent
from assistant.index.keyword import terms

BONUS = 0.1  # the sentence gives the kind of answer asked for
STRONG_BONUS = 0.12  # ... a name, a date or a number
VERDICT_BONUS = 0.04  # ... and, for why, also the verdict the reason is for ("dismissed it as biased")
SPEAKER_BONUS = 0.04  # for what-did-X-say, the sentence names X
ACTION_BONUS = 0.04  # for who-did-Y, the sentence says someone did Y ("answered" for "Who responded")
WHEN_ACTION_BONUS = 0.12  # for when-did-Y, the dated sentence says Y was done: a date of another event is no answer
DEADLINE_BONUS = 0.04  # for by-when, the date is one to be done by ("by no later than November")
LEDE_BONUS = 0.02  # a document's opening sentence: news leads with what happened and why
SCENE_PENALTY = 0.1  # the sentence only sets the scene (a meeting's logistics, a title)
STRONG_KINDS = ("who", "when", "long", "count")  # answered by a name, a date, a duration or a number

# Not "is due to announce" (a schedule), nor "for reasons connected to" (no reason given).
_REASON = re.compile(r"\b(?:because|due to(?! (?:be|announce|present|publish|release|submit|meet|hold|visit|"
                     r"report|adopt|vote|decide|respond|give|take|start|begin|return|arrive|appear|make)\b)|owing to|"
                     r"(?:the|main|one|chief|real) reasons? (?:for|why|behind|was|is|were|are)|contention|"
                     r"relian\w*|reli(?:ed|es) on|citing|on the grounds|as a result of|in order to|saying|"
                     r"(?:which|that|what) caused|caused by|the cause of|"
                     r"argu(?:ed|ing|es)|claim(?:ed|ing|s) that|"
                     # "accusing it of bias" gives a reason; "police are accused of" the claim answered.
                     r"(?<!are )(?<!is )(?<!was )(?<!were )(?<!been )accus(?:ed|ing)|"
                     r"(?:main|central|chief|principal|primary|key|major) (?:concerns?|objections?|"
                     r"complaints?|criticisms?|grievances?))\b", re.I)
# A reason for rejecting or criticising is often the judgement itself: "largely biased,
# prejudiced and unfounded", "very limited recognition of the progress", "out of context".
_JUDGEMENT = re.compile(r"\b(?:biased|prejudiced|unfounded|baseless|groundless|one-sided|unbalanced|selective|"
                        r"inaccurate|misleading|exaggerat\w*|distort\w*|politically motivated|out of context|"
                        r"(?:limited|little|no|insufficient) (?:recognition|regard|weight|basis|evidence|grounds)|"
                        r"(?:not have|lacks?|lacking|without) (?:sufficient |enough |any )?(?:basis|evidence|grounds)|"
                        r"(?:fail(?:ed|s)?|refus(?:ed|es)) to (?:reflect|recogni[sz]e|acknowledge|address|consider)|"
                        r"(?:did|does|do) not (?:truly |accurately |fully )?reflect|ignor(?:ed|es|ing)|"
                        # ... or the justification: "should not be construed as a threat".
                        r"(?:should|must|cannot|can ?not|could not) (?:not )?be (?:construed|seen|interpreted|"
                        r"regarded|viewed|considered|taken) as|"
                        r"fulfil+(?:s|ed|ing)? (?:their|its|his|her) (?:duty|duties|obligations?|mandate))\b", re.I)
_VERDICT = re.compile(r"\b(?:dismiss|reject|denounc|condemn|describ|brand|label|call|den(?:y|ie))\w*\b[^.;]{0,80}?"
                      r"\b(?:as|saying|because)\b", re.I)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
          r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = re.compile(rf"\b(?:\d{{1,2}}\s+{_MONTH}\b|{_MONTH}\.?\s+\d{{1,2}}\b|{_MONTH}\s+(?:1[89]|20)\d\d|"
                   rf"(?:1[89]|20)\d\d-\d\d|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|"
                   rf"(?:in|since|by) (?:1[89]|20)\d\d|"
                   rf"(?:by|in|on|until|before|after|since|from|than|this|next|last|early|late|mid-)\s*{_MONTH}|"
                   rf"(?:this|next|last) (?:year|month|week|spring|summer|autumn|winter))\b")
_BY_DATE = re.compile(rf"\b(?:by|before|until|till|no later than|not later than)\s+(?:the end of\s+|early\s+|"
                      rf"mid-?\s*|late\s+)?(?:{_MONTH}\b|(?:1[89]|20)\d\d\b|\d{{1,2}}\s+{_MONTH}\b|"
                      # ... or a meeting to be done by: "no later than at the 41st session"
                      rf"(?:at\s+)?the\s+\d+(?:st|nd|rd|th)\s+(?:session|meeting|sitting)\b)")
# A duration ("between five and twelve days", "48 hours", "a six-month term") or a span of dates
# ("from 1 July to 31 December 2017", "June 2018–June 2019"): how long, or what period.
_COUNT_WORD = (r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
               r"thirty|forty|fifty|sixty|ninety|hundred|several|a few|many)")
_UNIT = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)"
_SPAN = re.compile(rf"\b{_COUNT_WORD}(?:[\s-]+(?:and|or|to)[\s-]+{_COUNT_WORD})?[\s-]+(?:[a-z]+[\s-]+)?{_UNIT}\b|"
                   rf"\bfrom\s+(?:\d{{1,2}}\s+)?{_MONTH}\b[^.;]{{0,30}}?\b(?:to|until|till)\s+(?:\d{{1,2}}\s+)?{_MONTH}\b|"
                   rf"\b{_MONTH}\s+(?:1[89]|20)\d\d\s*(?:[–—-]|to|until)\s*{_MONTH}\s+(?:1[89]|20)\d\d\b|"
                   rf"\b(?:between|from)\s+(?:1[89]|20)\d\d\s+(?:and|to)\s+(?:1[89]|20)\d\d\b", re.I)
# A recommendation (a list's label, then a verb in the imperative): its figure or date is what
# it asks for ("within the 48 hours the law requires"), not what happened.
_RECOMMENDS = re.compile(r"^\s*(?:[-*•]\s*|\(?[\d.]+\)?\s+|[a-z]\)\s+)?(?:Bring|Allow|Review|Reduce|Ensure|Make|"
                         r"Publish|Release|Strengthen|Continue|Consider|Accede|Sign|Ratify|Adopt|Take|Establish|"
                         r"Promote|Guarantee|End|Stop|Repeal|Amend|Revise|Investigate|Provide|Implement|Increase|"
                         r"Improve|Set|Extend|Respect|Protect|Cooperate|Intensify|Pursue|Step|Undertake|Redouble|"
                         r"Enact|Introduce|Abolish|Lift|Withdraw|Refrain|Grant|Submit|Issue|Invite|Seek|Develop|"
                         r"Allocate|Support|Uphold|Bolster|Boost|Expedite)\b")
# ... or a sentence saying what someone asked for: "called on the Government to", "urged".
_ASKS = re.compile(r"\b(?:recommend\w*|urg(?:e|ed|es|ing)|call(?:ed|s|ing)? (?:on|upon|for)|"
                   r"ask(?:ed|s|ing)? (?:the |that )|request(?:ed|s|ing)?|demand(?:ed|s|ing)?|propos(?:ed|es|ing)|"
                   r"invit(?:ed|es|ing) (?:the )?\w+ to)\b", re.I)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?)\b", re.I)
# A person: two or three capitalised words that name no body ("Amara Veldt", "Chin Malin");
# a role: the words that say what a person or body does.
_CAPS = re.compile(r"\b[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+){1,5}\b")
_BODY = re.compile(r"\b(?:Ministry|Office|Council|Committee|Commission|Centre|Center|League|Republic|Act|Assembly|"
                   r"Nations|Union|Court|Party|Government|Mission|Department|Agency|Watch|Collective|Rights|Human|"
                   r"Report|Review|Post|Times|Daily|Ledger|News|Kingdom|Foreign|National|International|The|In|On|At|"
                   r"January|February|March|April|May|June|July|August|September|October|November|December)\b")
_ROLES = (r"(?:minister|spokes(?:person|man|woman)|director|secretary|president|chair(?:man|woman|person)?|"
          r"deputy|ambassador|rapporteur|commissioner|official|coordinator|lawyer|head|leader|delegate|"
          r"representative|general|expert|activist|founder|member)")
_ROLE_AFTER = re.compile(rf",\s+(?:the\s+|a\s+|an\s+)?(?:[\w'’-]+\s+){{0,4}}{_ROLES}\b", re.I)
# ... with an honorific between role and name: "its chair, Dr. Lenora Aske".
_ROLE_BEFORE = re.compile(rf"\b{_ROLES},?\s+(?:of\s+[\w ]{{1,30}}?\s+)?(?:(?:Dr|Mr|Mrs|Ms|Prof|Professor|"
                          rf"Judge|General|H\.\s?E)\.?\s+)?$", re.I)
_SAYS_AFTER = re.compile(r",?\s+(?:said|says|told|noted|answered|replied|responded|added|argued|stated|wrote|"
                         r"stressed|insisted|warned|urged|asked|explained)\b")
_SPEECH = re.compile(r"\b(?:said|says|say|told|stated|states|noted|added|stressed|argued|insisted|warned|"
                     r"declared|announced|responded|replied|answered|urged|called|wrote|according to)\b|[\"“”]", re.I)
# Saying that someone said nothing: no answer to who responded or what they said.
_NO_COMMENT = re.compile(r"\b(?:(?:declined|refused) to (?:comment|respond|answer)|could not be reached|"
                         r"was not available for comment|did not (?:respond|reply) to (?:a )?requests?)\b", re.I)
# Words for one action, as a who-question and the answering sentence may each put it.
_KIN = ({"respond", "respons", "answer", "repli", "react", "reaction", "rebut", "retort"},
        {"led", "lead", "leader", "head", "chair", "chairman", "chairwoman", "chairperson", "presid"},
        {"spoke", "speak", "spokesman", "spokesperson", "spokeswoman", "said", "say", "told", "tell"})
# "was held" sets the scene for an event, not for a person ("no reporter was held in Marvala").
_SCENE = re.compile(r"\b(?:meeting was|in attendance|attended by|titled|entitled|held at|took place|"
                    r"(?:meeting|session|conference|event|workshop|dialogue|forum|ceremony|briefing|consultation|"
                    r"seminar|talks|summit|debate|hearing)\s+(?:was|were)\s+held|gathered|"
                    r"delegates from|the aim of the meeting|(?:answered|took|fielded) questions|"
                    # A speech's courtesies: "It is a great honour for me to address the Assembly".
                    r"(?:honou?r|privilege|pleasure)\s+(?:and\s+(?:a\s+)?(?:honou?r|privilege|pleasure)\s+)?"
                    r"(?:for\s+me\s+)?(?:of|to)\s+(?:address|reading out|read out|speak|take the floor|convey)"
                    r")\b", re.I)


def bonus(intent: Intent, sentence: str, lede: bool = False, theirs: bool | None = None) -> float:
    """The rank bonus (or penalty) for `sentence` as an answer to a question of this intent;
    `lede`: it opens its document; `theirs`: for what-did-X-say, whether it gives X's words,
    where whose words it gives was read (speakers.py)."""
    look = _LOOK_FOR.get(intent.kind)  # only the kind's own cue: every sentence of every answer is read
    found = look(sentence) if look else None
    if found and intent.kind in ("when", "long", "count") and _RECOMMENDS.match(sentence):
        found = None  # "Bring every detainee before a judge within 48 hours": asked for, not found
    # A who, when or how-many question is not answered at all by a sentence without a name,
    # a date or a number: those cues weigh more than a why's reason.
    out = (STRONG_BONUS if intent.kind in STRONG_KINDS else BONUS) if found else 0.0
    if intent.kind == "said" and theirs is not None:
        # X's words answer what X said, another's do not, though they may name X.
        out = BONUS + SPEAKER_BONUS if theirs else 0.0
    elif intent.kind in ("said", "recommend") and _names_speaker(intent, sentence):
        out += SPEAKER_BONUS
    if intent.kind == "who" and found and _does(intent.action, sentence):
        out += ACTION_BONUS
    if intent.kind == "when" and intent.deadline and _BY_DATE.search(sentence):
        out += DEADLINE_BONUS
    if intent.kind == "when" and found and _does(intent.action, sentence):
        out += WHEN_ACTION_BONUS  # the date of what was asked about ("submitted ... in 2019")
    if intent.kind == "why" and _VERDICT.search(sentence):
        out = BONUS + VERDICT_BONUS
    if sets_scene(intent, sentence):
        out -= SCENE_PENALTY
    return out + (LEDE_BONUS if lede else 0.0)


_LOOK_FOR: dict[str, Callable[[str], object]] = {
    "why": lambda s: _REASON.search(s) or _JUDGEMENT.search(s),
    "when": _DATE.search,
    "long": _SPAN.search,
    "count": lambda s: _NUMBER.search(_without_dates(s)),
    "who": lambda s: _person(s),  # defined below
    "said": _SPEECH.search,
    "recommend": lambda s: _RECOMMENDS.match(s) or _ASKS.search(s),
}


def gives_reason(sentence: str) -> bool:
    """Does the sentence give a reason ("because ...", "saying ...", "citing ..."), not only a
    verdict ("dismissed it as biased")?"""
    return bool(_REASON.search(sentence))


def sets_scene(intent: Intent, sentence: str) -> bool:
    """Does the sentence only set the scene (where a meeting was, who attended, a title) for a
    question that asks why, who, or what someone said?"""
    if intent.kind in ("said", "who") and _NO_COMMENT.search(sentence):
        return intent.kind == "said" or bool(_family(intent.action) & (_KIN[0] | _KIN[2]))
    return intent.kind in ("why", "said", "who") and bool(_SCENE.search(sentence))


def _family(action: str) -> set[str]:
    """The word stems that say the action ("responded": respond, answer, reply, react ...)."""
    stems = set(terms(action))
    return next((kin for kin in _KIN if kin & stems), stems)


def _does(action: str, sentence: str) -> bool:
    """Does the sentence say someone did `action` (in its words or a kindred one's)?"""
    return bool(action) and bool(_family(action) & set(terms(sentence)))


def _names_speaker(intent: Intent, sentence: str) -> bool:
    """Does the sentence name the one whose words are asked for (by any of their names' words)?"""
    return any(re.search(rf"\b{re.escape(w)}\b", sentence) for w in speakers.words(" ".join(intent.speakers)))


def _person(sentence: str) -> bool:
    """Does the sentence name a person as the one who acts: a name with a role beside it
    ("Amara Veldt, executive director of ...", "spokesperson Dario Vensk") or with words said
    ("Veldt said")?"""
    for m in _CAPS.finditer(sentence):
        # A title may run into the name ("Deputy Foreign Minister Jarek Holm"): the name is
        # what follows its last title or body word.
        words = m.group().split()
        titled = [i for i, w in enumerate(words) if _BODY.search(w) or re.fullmatch(_ROLES, w, re.I)]
        cut = titled[-1] + 1 if titled else 0
        if len(words) - cut < 2:
            continue
        start = m.start() + len(" ".join(words[:cut])) + (1 if cut else 0)
        after, before = sentence[m.end():m.end() + 60], sentence[max(0, start - 40):start]
        if _ROLE_AFTER.match(after) or _ROLE_BEFORE.search(before) or _SAYS_AFTER.match(after):
            return True
    return False


# Numbers that label rather than count: a list item's ("118.47 Cooperate ..."), a paragraph's
# ("n°118.5", "118.22"), a document symbol's ("A/HRC/RES/5/1"), a law's article ("article 305 of
# the Penal Code"); not a share or an amount ("83.02 per cent", "118.5 million").
_LABELS = re.compile(r"^\s*\d+(?:\.\d+){2,}\s|^\s*\d{2,}\.\d+\s(?=[A-Z])|n°\s?\S+|\S*/\S*\d\S*|"
                     r"\b\d{3,}\.\d+\b(?!\s*(?:%|per ?cent|percent|million|billion|thousand))|"
                     r"\b(?i:articles?|paragraphs?|paras?|sections?|resolutions?|chapters?|rules?|clauses?|"
                     r"items?)\s+\d+(?:\s*\(\d+\))?(?:\s*(?:,|and|to)\s*\d+(?:\s*\(\d+\))?)*")


def _without_dates(sentence: str) -> str:
    """Years and days of the month are numbers that do not count anything; nor are labels."""
    return re.sub(r"\b(?:1[6-9]|20)\d\d\b", " ", _DATE.sub(" ", _LABELS.sub(" ", sentence)))

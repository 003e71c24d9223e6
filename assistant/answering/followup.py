"""Follow-up questions without an LLM: what the conversation so far lends the new question.

"Who responded to that?" has no topic of its own. The earlier turns give it one (their names,
years and content words, added to the search), and the last answer gives a place to look
first: the documents it quoted, found again from its own sentences, which are verbatim quotes
(any client's history works, since only the text is needed). The sentences it already gave are
ranked down, so the follow-up answers with something new.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.answering.intent import refers_back
from assistant.index.keyword import terms
from assistant.index.search import SnapshotSearch
from assistant.index.text import units

COMMON_IDF = 1.0  # a term in more than about a third of the archive's chunks (BM25's IDF)
MAX_SENTENCES = 8  # of the last answer, looked up to find the documents it quoted
FOUND = 0.8  # share of a sentence's (IDF-weighted) terms its chunk must hold to count as its source
_ASKING = {"mani", "much", "long", "often"}  # stems of how-many and the like: shared by questions on anything
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\](?:\s*\([^()]{1,40}\))?")
_LABEL = re.compile(r"^\*\*[^*]{1,60}\*\*:?\s*")
_FUNCTION_WORDS = frozenset({
    "a", "about", "also", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but", "by",
    "can", "could", "did", "do", "does", "for", "from", "give", "had", "has", "have", "he", "her",
    "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "may", "me", "might", "must", "no",
    "not", "of", "on", "or", "our", "please", "said", "say", "says", "shall", "she", "should", "so",
    "some", "such", "tell", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "told", "us", "was", "we", "were", "what", "when", "where", "which", "who",
    "whom", "whose", "why", "will", "with", "would", "yes", "you", "your",
})


@dataclass
class FollowUp:
    """What the earlier turns lend a follow-up question."""

    topic: str  # the earlier questions' content words, added to the search
    said: set[str] = field(default_factory=set)  # the last answer's sentences, whitespace collapsed
    cited: tuple[str, ...] = ()  # chunk ids the last answer quoted

    def query(self, question: str) -> str:
        return f"{question} {self.topic}".strip()


def follow_up(question: str, turns: list[tuple[str, str]], snapshot: SnapshotSearch,
              readable: np.ndarray | None = None) -> FollowUp | None:
    """The context for `question` when it leans on earlier `turns` ((question, answer) pairs),
    else None. The topic comes from the last question, and from the one before it too when the
    last was itself a follow-up ("Who responded to that?" then "What did she say?"). The quoted
    documents are looked for only among the `readable` chunks (a mask; None: all): a history is
    the client's to write, and must not name a way into another collection."""
    asked = [q for q, _ in turns]
    if not turns or not leans_on(question, asked, snapshot.idf):
        return None
    said = [s for s in (_plain(u) for u in units(_MARKERS.sub(" ", _LABEL.sub("", turns[-1][1])))) if s]
    return FollowUp(topic(question, asked, snapshot.idf), set(said), _sources(said[:MAX_SENTENCES], snapshot, readable))


def topic(question: str, asked: list[str], idf: Callable[[str], float] | None = None) -> str:
    """What the earlier questions were about, for a question that refers back to them ("" for
    one that does not): the last one's content words, and the one before's too when the last
    was itself a follow-up."""
    if not asked or not leans_on(question, asked, idf):
        return ""
    topic_from = asked[-2:] if len(asked) > 1 and leans_on(asked[-1], asked[:-1], idf) else asked[-1:]
    return " ".join(dict.fromkeys(w for q in topic_from for w in content_words(q)))


def leans_on(question: str, asked: list[str], idf: Callable[[str], float] | None = None) -> bool:
    """Does the question lean on the earlier questions `asked`? It refers back ("Who responded
    to that?"), or it names nothing of its own (no name past its first word, no year) and is
    short ("When was polling day?") or goes on with a word of the last two ("How many seats
    were up for election?" after "What did FIDH say about the 2023 general election?"; not
    "Who chairs the task force?"). With the archive's `idf`, a name that most of its documents
    use ("Marvala" in an archive about Marvala) is no subject of its own."""
    if refers_back(question):
        return True
    names = re.findall(r"(?<!^)\b[A-Z][\w'’-]*|\b\d{4}\b", question.strip())
    if idf is not None:
        names = [n for n in names if not all(idf(t) < COMMON_IDF for t in terms(n))]
    if not asked or names:
        return False
    earlier = set(terms(" ".join(asked[-2:])))
    own = set(terms(question)) - _ASKING
    # Two words of its own at most, besides the archive's common ones: "What is the legal limit
    # in Marvala?" after a question on detention asks for the limit on that.
    few = idf is not None and len({t for t in own if idf(t) >= COMMON_IDF}) <= 2
    return len(question.split()) <= 4 or few or bool(own & earlier)


def content_words(question: str) -> list[str]:
    """The question's words less function and question words, in order ("Marvala reject 2023
    OHCHR report")."""
    words = re.findall(r"[\w'’-]+", question)
    return [w for w in words if w.lower() not in _FUNCTION_WORDS and len(w) > 1]


def _plain(sentence: str) -> str:
    return " ".join(sentence.split())


def _sources(sentences: list[str], snapshot: SnapshotSearch, readable: np.ndarray | None) -> tuple[str, ...]:
    """The chunk each sentence was quoted from: its best keyword match, when that holds nearly
    all of the sentence's terms (a paraphrase by an LLM may find none)."""
    found: list[str] = []
    if readable is not None and not readable.any():
        return ()
    for sentence in sentences:
        hits = snapshot.keyword(sentence, 1, readable)
        if hits and snapshot.coverage(sentence, hits[0][0]) >= FOUND and hits[0][0] not in found:
            found.append(hits[0][0])
    return tuple(found)

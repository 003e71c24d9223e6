"""Where a cited passage holds the sentences an answer rests on: highlighted when a source is
opened in the chat, and shown first in the short excerpts of a source (the CLI, the chat's
closed source cards), so that a reader sees the evidence without opening anything. A search
result, which no answer rests on, is excerpted from its sentence that shares the most of the
query's terms.

Sentences are matched word by word, ignoring whitespace and Markdown emphasis, because the
answerers normalise both when they split a passage into sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.index.text import EMPHASIS, sentences

_WORD = re.compile(r"\S+")
_MARKUP = re.compile(r"[*_`]+")  # ignored when matching words


def _norm(word: str) -> str:
    return _MARKUP.sub("", word).lower()


def spans(text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) character ranges of `text` that hold the sentences, merged and in order;
    a sentence not found in the text has none."""
    words = [(m.start(), m.end(), _norm(m.group())) for m in _WORD.finditer(text)]
    keys = [w[2] for w in words]
    ranges: list[tuple[int, int]] = []
    for sentence in sentences:
        target = [t for t in (_norm(w) for w in sentence.split()) if t]
        if not target:
            continue
        for i in range(len(keys) - len(target) + 1):
            if keys[i:i + len(target)] == target:
                ranges.append((words[i][0], words[i + len(target) - 1][1]))
                break
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def excerpt(text: str, sentences: Sequence[str], limit: int) -> str:
    """At most `limit` characters of the passage as plain text (whitespace collapsed, bold and
    code marks out): from its first supporting sentence where it has one, else from its start;
    "…" marks a cut at either end."""
    found = spans(text, sentences)
    start = found[0][0] if found else 0
    body = " ".join(EMPHASIS.sub("", text[start:]).split())
    head = "…" if text[:start].strip() else ""
    if len(head) + len(body) <= limit:
        return head + body
    cut = body[:max(0, limit - len(head) - 1)]
    if " " in cut[-20:]:  # end on a whole word where one ends near the limit
        cut = cut.rsplit(" ", 1)[0]
    return head + cut + "…"


def matching_sentence(text: str, query: str) -> list[str]:
    """The passage's sentence sharing the most distinct query terms (stemmed, stop words out),
    the first of equals; none when no sentence shares one."""
    from assistant.index.keyword import terms

    wanted = set(terms(query))
    best, score = [], 0
    for sentence in (" ".join(s.split()) for s in sentences(text)):
        shared = len(wanted.intersection(terms(sentence)))
        if shared > score:
            best, score = [sentence], shared
    return best

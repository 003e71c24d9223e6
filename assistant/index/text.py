"""Text as both paths see it: sentences (chunking packs them; answers quote them) and the
answerable units of a passage (sentences, with list items and headings kept apart)."""

from __future__ import annotations

import re

EMPHASIS = re.compile(r"\*\*|__|`")  # Markdown emphasis, dropped from quotations
# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by space.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_PARAGRAPH = re.compile(r"\n\s*\n")
# A "sentence" ending in one of these is an abbreviation, not a sentence end.
_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|No|Gen|Sen|Rep|Gov|Lt|Col|Jr|Sr|Inc|Co|Ltd|"
                     r"Corp|vs|etc|e\.g|i\.e|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
                     r"|\b[A-Z](?:\.[A-Z])*)\.$")


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph."""
    out: list[str] = []
    for sent in _SENTENCE_END.split(paragraph):
        sent = sent.strip()
        if not sent:
            continue
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {sent}"
        else:
            out.append(sent)
    return out


def sentences_with_breaks(text: str) -> list[tuple[str, str]]:
    """(separator before it, sentence) for every sentence of the text."""
    out: list[tuple[str, str]] = []
    for p, para in enumerate(_PARAGRAPH.split(text)):
        para = para.strip()
        if not para:
            continue
        for s, sent in enumerate(split_sentences(para)):
            out.append(("\n\n" if p and not s else (" " if out else ""), sent))
    if out:
        out[0] = ("", out[0][1])
    return out


def sentences(text: str) -> list[str]:
    """The sentences of a text, paragraph by paragraph, as chunking sees them."""
    return [u for _, u in sentences_with_breaks(text)]


_HEADING = re.compile(r"^\s*#{1,6}\s")
_ITALIC_LINE = re.compile(r"^\s*[*_](?![*_\s]).*[^*_\s][*_]\s*$")  # an editorial note, byline or caption
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|#{1,6})\s+")  # list item or heading line
# A source's own bracketed numbers ("... as reported [12]") would read as this answer's
# citations, and a hostile document can plant them on purpose: quotations drop them.
_SOURCE_MARKER = re.compile(r"\s*\[\d+(?:\s*[,–-]\s*\d+)*\]")


def units(text: str, keep_markers: bool = False, headings: bool = True) -> list[str]:
    """Answerable units of a passage: sentences, with list items and headings kept apart
    (headings and whole-italic lines, editorial notes and bylines, left out unless `headings`:
    a title is no answer). Bracketed numbers are dropped unless `keep_markers` (an answer's
    own [n] citations)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for line in para.splitlines():
            if _ITEM.match(line) or not lines:
                lines.append(line)
            else:  # a soft-wrapped continuation
                lines[-1] += " " + line
        for line in lines:
            if not headings and (_HEADING.match(line) or _ITALIC_LINE.match(line)):
                continue
            clean = EMPHASIS.sub("", _ITEM.sub("", line))
            clean = " ".join((clean if keep_markers else _SOURCE_MARKER.sub("", clean)).split())
            out.extend(split_sentences(clean))
    return out


_MIN_WORDS = 5
_HEADING_WORDS = 10  # shorter than this and without final punctuation: a heading or byline
_FINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


def is_sentence(text: str) -> bool:
    """Long enough to quote, and not a heading or byline."""
    n = len(text.split())
    return n >= _MIN_WORDS and (n >= _HEADING_WORDS or bool(_FINAL.search(text)))


def titled(title: str, sentence: str) -> str:
    """A sentence as answers score it for meaning: read with its document's title."""
    return f"{title}: {sentence}"


def sentence_inputs(title: str, text: str) -> list[str]:
    """What answers encode of a passage's quotable sentences: each read with its document's
    title, and alone (assistant/answering/relevance.py), so ingestion can encode them ahead."""
    found = [s for s in units(text, headings=False) if is_sentence(s)]
    return [titled(title, s) for s in found] + found

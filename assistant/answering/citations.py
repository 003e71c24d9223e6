"""[n] markers in generated text, parsed as it streams: kept when they name a passage, renumbered
1..m in order of first citation, dropped when they name none.

Text that might be the start of a marker split across two pieces ("... [", "1]") is held back
until it is decided, as is trailing space, so that a dropped marker takes the space before it
along ("a claim [7]." -> "a claim."). Joined, what `feed` and `flush` return is the final text.
"""

from __future__ import annotations

import re

# [1]  [1, 3]  [1;2]; at most three digits a number, so "[2023]" stays text.
MARKER = re.compile(r"(\s*)\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_OPEN_TAIL = re.compile(r"\s*\[[\d\s,;]{0,16}$|\s+$")  # could still become a marker, or precede one
_GARBAGE_TAIL = re.compile(r"\s*\[[\d\s,;]*$")


class MarkerStream:
    """Feed it the pieces of a streamed answer over `passages` numbered passages."""

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.order: list[int] = []  # passage numbers as the model gave them, in order of first citation
        self.dropped: list[int] = []  # numbers that named no passage
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        tail = _OPEN_TAIL.search(text)
        cut = tail.start() if tail else len(text)
        self._held = text[cut:]
        return MARKER.sub(self._replace, text[:cut])

    def flush(self) -> str:
        """The end of the stream: what was held back, minus an unfinished marker and end space."""
        text, self._held = self._held, ""
        text = MARKER.sub(self._replace, text)
        return _GARBAGE_TAIL.sub("", text).rstrip()

    def _replace(self, m: re.Match[str]) -> str:
        kept: list[int] = []
        for raw in re.split(r"\s*[,;]\s*", m.group(2)):
            n = int(raw)
            if not 1 <= n <= self.passages:
                self.dropped.append(n)
                continue
            if n not in self.order:
                self.order.append(n)
            new = self.order.index(n) + 1
            if new not in kept:
                kept.append(new)
        if not kept:
            return ""  # the marker and the space before it go
        return m.group(1) + "".join(f"[{n}]" for n in kept)


def renumbered(text: str, passages: int) -> tuple[str, list[int]]:
    """The whole-text version: (text with valid markers renumbered, original numbers in new order)."""
    stream = MarkerStream(passages)
    out = stream.feed(text) + stream.flush()
    return out, stream.order


def cite_grammar(passages: int, refusal: str, sentences: int = 2, longest: int = 200) -> str:
    """A llama.cpp GBNF grammar for a reply of 1..`sentences` sentences, each followed by one
    valid marker ("... in 2023. [2]"), or the refusal sentence. Small models rarely cite
    unprompted; under this grammar the model still chooses what to say and which passage to
    cite. A period may only end a sentence, right before its marker (so "2.1" cannot be
    written): where the model ends a sentence it must cite, and no sentence runs past its marker.
    A sentence is cut at `longest` characters by the marker."""
    quoted = refusal.replace("\\", "\\\\").replace('"', '\\"')
    numbers = " | ".join(f'"{n}"' for n in range(1, passages + 1))
    return "\n".join([
        f'root ::= refusal | claim (" " claim){{0,{sentences - 1}}}',
        f'refusal ::= "{quoted}"',
        f'claim ::= [A-Z0-9"“(] piece{{8,{longest}}} "."? " [" number "]"',
        r'piece ::= [^\[\]\n.]',
        f"number ::= {numbers}",
    ]) + "\n"

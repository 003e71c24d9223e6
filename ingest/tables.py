"""Tables as text: each row is written with its label and column headers ("Revenues | 2023: 51,217 |
2022: 46,710"), so a number in a chunk says what it is; `TableSpan` marks where a table sits in a
page's text, so chunking (ingest/chunking.py) never cuts inside a row and repeats the header line."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpan:
    """A table in a page's text: characters [start, end), one row a line, the first line `header`
    (unless the table has none: "")."""

    start: int
    end: int
    header: str


@dataclass
class Table:
    """Column headers (one per value column) and rows of (label, one value per column)."""

    headers: list[str]
    rows: list[tuple[str, list[str]]]
    stub: str = ""  # the header row's own label cell ("(in millions)", "Year ended December 31")

    def lines(self) -> list[str]:
        """The header line ("" when the table has no headers), then one line a row; rows without
        values (section labels) stay as they are."""
        head = " | ".join(([self.stub] if self.stub else []) + [h for h in self.headers if h]) \
            if any(self.headers) else ""
        out = [head]
        keys = _keys(self.headers)
        for label, values in self.rows:
            cells = [f"{h}: {v}" if h else v for h, v in zip(keys, values) if v]
            out.append(" | ".join([label] + cells) if label else " | ".join(cells))
        return [_space(line) for line in out[:1]] + [_space(line) for line in out[1:] if line.strip()]


def _keys(headers: list[str]) -> list[str]:
    """What each value is prefixed with: its column header less the words that every column's
    header shares ("Three Months Ended December 31, 2022" and "... 2021" give "2022" and "2021").
    The shared words are in the header line, which starts every chunk of the table; repeating
    them before each value made a row several times longer without telling the columns apart.
    Headers stay whole where dropping words would leave one empty or two alike."""
    named = [h for h in headers if h]
    if len(named) < 2:
        return headers
    shared = set.intersection(*(set(h.split()) for h in named))
    keys = [" ".join(w for w in h.split() if w not in shared) for h in headers]
    short = [k for h, k in zip(headers, keys) if h]
    if not all(short) or len(set(short)) < len(set(named)):
        return headers
    return keys


def _space(text: str) -> str:
    """One space between words, and no leader dots ("Net income ........ | 2023: 5")."""
    return re.sub(r"\s+", " ", re.sub(r"\s*\.{4,}", " ", text)).strip()


def join_blocks(blocks: list[str | Table], sep: str = "\n\n") -> tuple[str, list[TableSpan]]:
    """Text blocks and tables joined by `sep`, with where each table landed."""
    parts: list[str] = []
    spans: list[TableSpan] = []
    at = 0
    for block in blocks:
        if isinstance(block, Table):
            head, *rows = block.lines()
            if not rows:  # a header without rows says nothing as a table
                block = head
            else:
                text = "\n".join(([head] if head else []) + rows)
                if parts:
                    at += len(sep)
                spans.append(TableSpan(at, at + len(text), head))
                parts.append(text)
                at += len(text)
                continue
        if not block.strip():
            continue
        if parts:
            at += len(sep)
        parts.append(block)
        at += len(block)
    return sep.join(parts), spans


def from_grid(grid: list[list[str]], header_rows: int = 1) -> Table:
    """A table from its cells, the first `header_rows` rows being column headers and the first
    column the row labels (HTML <th>, a Word table's first row)."""
    width = max((len(r) for r in grid), default=0)
    grid = [[_space(c) for c in r] + [""] * (width - len(r)) for r in grid]
    heads = grid[:header_rows]
    headers = [" ".join(dict.fromkeys(h[c] for h in heads if h[c])) for c in range(1, width)]
    stub = " ".join(dict.fromkeys(h[0] for h in heads if h[0])) if heads else ""
    return Table(headers, [(r[0], r[1:]) for r in grid[header_rows:] if any(r)], stub)

"""Tables on a PDF page, found from PDFium's character boxes: no second parser, so PDFs keep
PDFium's speed (benchmarks/results/tables.md has the measurements that chose this).

Words are placed by the boxes of their first and last characters, grouped into lines by height
and into cells by horizontal gaps. A table is a run of lines whose numeric cells fall into shared
columns (numbers are right-aligned under their header); the lines just above its first row that
sit over those columns are its header. Only pages whose text has several lines ending in numbers
are looked at, and a table's text replaces its own characters in PDFium's text, so prose reads
exactly as before."""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass, field
from typing import Any

from ingest.tables import Table, TableSpan, join_blocks

_NUMBER = re.compile(r"^[($]*[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?\)?%?\*?$|^[—–-]+$|^[$%]$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_Word = tuple[float, float, float, float, str, int, int]  # left, right, bottom, top, text, first, last char
MIN_ROWS = 3  # lines with values; fewer is a sentence with numbers more often than a table


@dataclass
class _Cell:
    x0: float
    x1: float
    text: str
    first: int  # character indices in the page text
    last: int
    numeric: bool


@dataclass
class _Line:
    top: float
    bottom: float
    cells: list[_Cell] = field(default_factory=list)


def maybe_tables(text: str) -> bool:
    """Cheap test on the page's text: several lines end in two numbers (most pages of a report
    have numbers; this keeps the character boxes for those likely to hold a table)."""
    rows = 0
    for line in text.split("\n"):
        tail = line.rsplit(None, 2)
        if len(tail) == 3 and _NUMBER.match(tail[2]) and _NUMBER.match(tail[1]) and tail[2][-1:].isdigit():
            rows += 1
            if rows >= MIN_ROWS:
                return True
    return False


def page_tables(textpage: Any, text: str) -> tuple[str, list[TableSpan]]:
    """The page's text (PDFium's `get_text_range`, which indexes characters as the boxes do)
    with each table written as rows, and where they are. Unchanged when no table is found or a
    table's characters are interleaved with other text in PDFium's order."""
    lines = _lines(_words(textpage, text))
    found = _tables(lines)
    if not found:
        return text, []
    blocks: list[str | Table] = []
    at = 0
    for table, first, last, words in sorted(found, key=lambda f: f[1]):
        if first < at or len(text[first:last + 1].split()) != words:  # other text interleaved: left as it is
            continue
        blocks += [_plain(text[at:first]), table]
        at = last + 1
    if not at:
        return text, []
    blocks.append(_plain(text[at:]))
    return join_blocks(blocks, "\n")


def _plain(text: str) -> str:
    """As the reader writes PDFium's text: `get_text_bounded` gives a soft hyphen as \\x02."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "\x02").strip()


def _words(textpage: Any, text: str) -> list[_Word]:
    import pypdfium2.raw as raw

    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    refs = [ctypes.byref(v) for v in (left, right, bottom, top)]
    box, handle = raw.FPDFText_GetCharBox, textpage.raw
    out = []
    for m in re.finditer(r"\S+", text):
        i, j = m.start(), m.end() - 1
        box(handle, i, *refs)
        x0, b0, t0 = left.value, bottom.value, top.value
        box(handle, j, *refs)
        x1, b1, t1 = right.value, bottom.value, top.value
        if x1 > x0 and max(t0, t1) > min(b0, b1):
            out.append((x0, x1, min(b0, b1), max(t0, t1), m.group(), i, j))
    return out


def _lines(words: list[_Word]) -> list[_Line]:
    """Words grouped into lines (top to bottom) and cells (left to right)."""
    rows: list[tuple[float, float, list[_Word]]] = []
    for word in sorted(words, key=lambda w: -(w[2] + w[3])):
        mid = (word[2] + word[3]) / 2
        if rows and rows[-1][0] <= mid <= rows[-1][1]:
            rows[-1][2].append(word)
        else:
            rows.append((word[2], word[3], [word]))
    lines = []
    for bottom, top, ws in rows:
        ws.sort()
        gap = 0.9 * (top - bottom)
        groups = [[ws[0]]]
        for word in ws[1:]:
            prev = groups[-1][-1]
            if word[0] - prev[1] > gap and prev[4] not in ("$", "("):
                groups.append([word])
            else:
                groups[-1].append(word)
        lines.append(_Line(top, bottom, [_cell(g) for g in groups]))
    return lines


def _cell(words: list[_Word]) -> _Cell:
    text = " ".join(w[4] for w in words)
    return _Cell(words[0][0], max(w[1] for w in words), text, min(w[5] for w in words),
                 max(w[6] for w in words), all(_NUMBER.match(w[4]) for w in words))


def _is_value_line(line: _Line) -> bool:
    return len(line.cells) >= 2 and any(c.numeric for c in line.cells[1:]) and not all(
        _YEAR.match(c.text) for c in line.cells if c.numeric)


def _tables(lines: list[_Line]) -> list[tuple[Table, int, int, int]]:
    """Runs of value lines (section labels may sit between them), each with its header."""
    out: list[tuple[Table, int, int, int]] = []
    i = 0
    while i < len(lines):
        if not _is_value_line(lines[i]):
            i += 1
            continue
        run, j, gap = [i], i + 1, 0
        while j < len(lines) and gap <= 3:
            if _is_value_line(lines[j]):
                run.append(j)
                gap = 0
            elif len(lines[j].cells) == 1:
                gap += 1
            else:
                break
            j += 1
        end = run[-1]
        if len(run) >= MIN_ROWS and (table := _table(lines, i, end)) is not None:
            out.append(table)
        i = end + 1
    return out


def _label_only(line: _Line, below: _Line) -> bool:
    """A one-cell line that ends before the values of the line below begin."""
    return line.cells[0].x1 < min((c.x0 for c in below.cells[1:]), default=line.cells[0].x1)


def _columns(values: list[_Cell]) -> list[tuple[float, float]]:
    """Column extents: numeric cells whose extents overlap share a column."""
    cols: list[list[float]] = []
    for c in sorted(values, key=lambda c: c.x0):
        if cols and c.x0 <= cols[-1][1]:
            cols[-1][1] = max(cols[-1][1], c.x1)
        else:
            cols.append([c.x0, c.x1])
    return [(a, b) for a, b in cols]


def _column_of(cell: _Cell, cols: list[tuple[float, float]]) -> int | None:
    best, where = 0.0, None
    for k, (a, b) in enumerate(cols):
        overlap = min(b, cell.x1) - max(a, cell.x0)
        if overlap > best:
            best, where = overlap, k
    return where


def _header(head: list[_Line], cols: list[tuple[float, float]], left: float) -> tuple[list[str], str]:
    """Each column's header, and the stub (what applies to every column). The lowest header line
    sits over its columns; a cell in a line above it ("Three Months Ended", "2022") heads the
    columns nearer to it than to the line's other cells, and one that heads them all goes to the stub."""
    parts: list[list[str]] = [[] for _ in cols]
    stub: list[str] = []
    for n, line in enumerate(head):
        cells = [c for c in line.cells if c.x1 > left]
        stub += [c.text for c in line.cells if c.x1 <= left]
        if n == len(head) - 1:
            for c in cells:
                k = _column_of(c, cols)
                if k is not None:
                    parts[k].append(c.text)
            continue
        owners: dict[int, list[int]] = {}
        for k, (a, b) in enumerate(cols):
            centre = (a + b) / 2
            if cells:
                owner = min(range(len(cells)), key=lambda i: abs((cells[i].x0 + cells[i].x1) / 2 - centre))
                owners.setdefault(owner, []).append(k)
        for i, ks in owners.items():
            if len(ks) == len(cols) and len(cols) > 1:
                stub.append(cells[i].text)
            else:
                for k in ks:
                    parts[k].append(cells[i].text)
    return [" ".join(p) for p in parts], " ".join(stub)


def _table(lines: list[_Line], start: int, end: int) -> tuple[Table, int, int, int] | None:
    first = lines[start]
    while start > 0 and len(lines[start - 1].cells) == 1 and not lines[start - 1].cells[0].numeric \
            and _label_only(lines[start - 1], first):
        start -= 1  # section labels ("Current assets:") above the first row belong to the table
    body = lines[start:end + 1]
    cols = _columns([c for line in body if _is_value_line(line) for c in line.cells[1:] if c.numeric])
    if not cols:
        return None
    left = cols[0][0]
    # The header: up to three lines just above, each with a cell over a column and none wider
    # than half the table (a title or a sentence).
    width = cols[-1][1] - min(c.x0 for line in body for c in line.cells)
    head: list[_Line] = []
    for line in reversed(lines[max(0, start - 3):start]):
        if _is_value_line(line) or any(c.x1 - c.x0 > width / 2 for c in line.cells) \
                or all(_column_of(c, cols) is None for c in line.cells) \
                or any(c.numeric and not _YEAR.match(c.text) for c in line.cells):  # values, not headers
            break
        head.insert(0, line)
    headers, stub = _header(head, cols, left)
    rows: list[tuple[str, list[str]]] = []
    for line in body:
        label = " ".join(c.text for c in line.cells if c.x1 <= left or _column_of(c, cols) is None)
        values = [""] * len(cols)
        for c in line.cells:
            k = _column_of(c, cols) if c.x1 > left else None
            if k is not None:
                values[k] = f"{values[k]} {c.text}".strip()
        rows.append((label, values))
    chars = [c for line in head + body for c in line.cells]
    return (Table(headers, rows, stub), min(c.first for c in chars), max(c.last for c in chars),
            sum(len(c.text.split()) for c in chars))

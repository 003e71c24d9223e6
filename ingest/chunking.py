"""Token-aware chunking: sentences packed into chunks of about `chunk_tokens` cl100k tokens,
with `overlap` tokens of whole sentences carried into the next chunk.

Chunks never cross a page boundary, so every chunk keeps one page number. A table (its span in
the page, ingest/tables.py) is packed a row at a time: no chunk ends inside a row, and a chunk
that goes on with a table starts with its header line. A second guard
(`fit`) splits any chunk the embedding model would truncate, so no text goes unembedded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from assistant.index.text import sentences, sentences_with_breaks
from assistant.index.tokens import encoding
from ingest.tables import TableSpan


def chunk_text(text: str, chunk_tokens: int, overlap: int, tables: Sequence[TableSpan] = ()) -> list[str]:
    enc = encoding()
    units, heads = _units(text, tables)
    if not units:
        return []
    # One call a sentence: encode_ordinary_batch starts a thread-pool task per text, which costs
    # more than the encoding itself and fights the encoder for the GIL.
    lengths = [len(enc.encode_ordinary(u)) for _, u, _ in units]
    # Sentences (and table rows) longer than a chunk are cut into token windows.
    pieces: list[_Piece] = []
    for (sep, unit, table), n in zip(units, lengths):
        if n <= chunk_tokens:
            pieces.append((sep, unit, n, table))
            continue
        ids = enc.encode_ordinary(unit)
        for k in range(0, len(ids), chunk_tokens):
            window = ids[k:k + chunk_tokens]
            pieces.append((sep if k == 0 else " ", enc.decode(window), len(window), table))
    header = {t: (sep, head, len(enc.encode_ordinary(head)), t) for t, (sep, head) in heads.items()}

    chunks: list[str] = []
    current: list[_Piece] = []
    size = 0
    for piece in pieces:
        if current and size + piece[2] > chunk_tokens:
            table = piece[3]
            if table in header and current[-1][1] == header[table][1] and len(current) > 1:
                size -= current.pop()[2]  # the header goes with its rows, into the next chunk
            chunks.append(_join(current))
            carried: list[_Piece] = []
            kept = 0
            if table in header and piece[1] != header[table][1]:
                # A table that goes on: its header line first, no overlap (each row says what it is).
                carried, kept = [header[table]], header[table][2]
            elif table is None:
                for prev in reversed(current):  # whole sentences, up to `overlap` tokens
                    if kept + prev[2] > overlap or kept + prev[2] + piece[2] > chunk_tokens:
                        break
                    carried.insert(0, prev)
                    kept += prev[2]
            current, size = carried, kept
        current.append(piece)
        size += piece[2]
    if current:
        chunks.append(_join(current))
    return chunks


_Piece = tuple[str, str, int, "int | None"]  # separator before it, text, tokens, table (its index)


def _units(text: str, tables: Sequence[TableSpan]) -> tuple[list[tuple[str, str, int | None]],
                                                             dict[int, tuple[str, str]]]:
    """Sentences outside tables, one unit a row inside them; and each table's header line."""
    units: list[tuple[str, str, int | None]] = []
    heads: dict[int, tuple[str, str]] = {}
    at = 0
    for t, span in enumerate(sorted(tables, key=lambda s: s.start)):
        if span.start < at:
            continue
        units += _prose(text[at:span.start], bool(units))
        for i, row in enumerate(r for r in text[span.start:span.end].split("\n") if r.strip()):
            sep = "\n\n" if not i and units else ("\n" if units else "")
            if not i and span.header and row.strip() == span.header:
                heads[t] = ("\n", row.strip())
            units.append((sep, row.strip(), t))
        at = span.end
    units += _prose(text[at:], bool(units))
    return units, heads


def _prose(text: str, after: bool) -> list[tuple[str, str, int | None]]:
    units: list[tuple[str, str, int | None]] = [(sep, u, None) for sep, u in sentences_with_breaks(text)]
    if units and after:
        units[0] = ("\n\n", units[0][1], None)
    return units


def _join(pieces: list[_Piece]) -> str:
    return "".join((sep if i else "") + text for i, (sep, text, _, _) in enumerate(pieces)).strip()


def fit(texts: list[str], prefix: str, count: Callable[[list[str]], list[int]], limit: int,
        headers: Collection[str] = ()) -> list[str]:
    """Split texts (recursively, at the middle sentence or word; at the middle row in a table,
    whose `headers` line the second half repeats) until `prefix + text` has at most `limit`
    model tokens, so the encoder truncates nothing."""
    sizes = count([prefix + t for t in texts])
    out: list[str] = []
    for text, n in zip(texts, sizes):
        if n <= limit or len(text) < 20:
            out.append(text)
        else:
            out.extend(fit(_halves(text, headers), prefix, count, limit, headers))
    return out


def _halves(text: str, headers: Collection[str] = ()) -> list[str]:
    lines = text.split("\n")
    rows = [i for i, line in enumerate(lines) if " | " in line and line not in headers and i > 0]
    if len(rows) >= 2:  # rows of a table: cut between two of them
        cut = rows[len(rows) // 2]
        first, second = lines[:cut], lines[cut:]
        head = next((line for line in reversed(first) if line in headers), None)
        if head is not None and len(first) > 1:  # a header alone would make the same text again
            second = [head] + second
        return ["\n".join(first).strip(), "\n".join(second).strip()]
    units = sentences(text)
    if len(units) < 2:
        units = text.split(" ")
        if len(units) < 2:
            mid = len(text) // 2
            return [text[:mid], text[mid:]]
    mid = len(units) // 2
    return [" ".join(units[:mid]), " ".join(units[mid:])]

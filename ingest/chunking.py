"""Token-aware chunking: sentences packed into chunks of about `chunk_tokens` cl100k tokens,
with `overlap` tokens of whole sentences carried into the next chunk.

Chunks never cross a page boundary, so every chunk keeps one page number. A second guard
(`fit`) splits any chunk the embedding model would truncate, so no text goes unembedded.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.index.text import sentences, sentences_with_breaks
from assistant.index.tokens import encoding


def chunk_text(text: str, chunk_tokens: int, overlap: int) -> list[str]:
    enc = encoding()
    units = sentences_with_breaks(text)
    if not units:
        return []
    # One call a sentence: encode_ordinary_batch starts a thread-pool task per text, which costs
    # more than the encoding itself and fights the encoder for the GIL.
    lengths = [len(enc.encode_ordinary(u)) for _, u in units]
    # Sentences longer than a chunk are cut into token windows.
    pieces: list[tuple[str, str, int]] = []
    for (sep, unit), n in zip(units, lengths):
        if n <= chunk_tokens:
            pieces.append((sep, unit, n))
            continue
        ids = enc.encode_ordinary(unit)
        for k in range(0, len(ids), chunk_tokens):
            window = ids[k:k + chunk_tokens]
            pieces.append((sep if k == 0 else " ", enc.decode(window), len(window)))

    chunks: list[str] = []
    current: list[tuple[str, str, int]] = []
    size = 0
    for piece in pieces:
        if current and size + piece[2] > chunk_tokens:
            chunks.append(_join(current))
            carried: list[tuple[str, str, int]] = []
            kept = 0
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


def _join(pieces: list[tuple[str, str, int]]) -> str:
    return "".join((sep if i else "") + text for i, (sep, text, _) in enumerate(pieces)).strip()


def fit(texts: list[str], prefix: str, count: Callable[[list[str]], list[int]], limit: int) -> list[str]:
    """Split texts (recursively, at the middle sentence or word) until `prefix + text` has at
    most `limit` model tokens, so the encoder truncates nothing."""
    sizes = count([prefix + t for t in texts])
    out: list[str] = []
    for text, n in zip(texts, sizes):
        if n <= limit or len(text) < 20:
            out.append(text)
        else:
            out.extend(fit(_halves(text), prefix, count, limit))
    return out


def _halves(text: str) -> list[str]:
    units = sentences(text)
    if len(units) < 2:
        units = text.split(" ")
        if len(units) < 2:
            mid = len(text) // 2
            return [text[:mid], text[mid:]]
    mid = len(units) // 2
    return [" ".join(units[:mid]), " ".join(units[mid:])]

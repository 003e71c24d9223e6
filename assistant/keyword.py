"""Text as the keyword index sees it: words, stop words out, stemmed (the bm25s way)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # stemming helps recall; the index still works without it
        return None


_WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English function words, question words and auxiliaries ("why", "did") included:
    they carry no topic, and left in they dominate short queries."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | {"would", "could", "should", "might", "must", "shall"}


def terms(text: str) -> list[str]:
    """The index's view of a text: lower-cased, stop words out, stemmed (as bm25s does it)."""
    stop = stopwords()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    stemmer = _stemmer()
    return list(stemmer.stemWords(words)) if stemmer is not None else words


def tokenize(texts: list[str]) -> Any:
    import bm25s

    return bm25s.tokenize(texts, stopwords=list(stopwords()), stemmer=_stemmer(), show_progress=False)

"""The keyword side of hybrid search: a BM25 index (bm25s) over every chunk in the store.

It is derived data: rebuilt from Chroma by ingestion whenever the store changes, and by a
reader that finds its recorded store generation out of date (say, after an interrupted run).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.store import Store, local_cache_dir

_LOCK = threading.Lock()


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


class KeywordIndex:
    def __init__(self, bm25: Any, ids: list[str], generation: str) -> None:
        self.bm25 = bm25
        self.ids = ids
        self.generation = generation

    @staticmethod
    def folder(store: Store) -> Path:
        return local_cache_dir(store.settings) / "keyword"

    @classmethod
    def rebuild(cls, store: Store) -> KeywordIndex:
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        generation = store.generation
        for page_ids, page_texts in store.iter_all():
            ids += page_ids
            texts += page_texts
        bm25 = bm25s.BM25()
        if texts:
            bm25.index(tokenize(texts), show_progress=False)
        index = cls(bm25, ids, generation)
        index.save(cls.folder(store))
        return index

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self.bm25.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps({"generation": self.generation, "ids": self.ids}))
        # Swap in whole, so a reader never sees half an index.
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, store: Store) -> KeywordIndex:
        """The saved index if it matches the store's generation, else a fresh rebuild."""
        import bm25s

        folder = cls.folder(store)
        with _LOCK:
            try:
                meta = json.loads((folder / "ids.json").read_text())
                if meta["generation"] == store.generation:
                    bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False, verbosity=0) \
                        if meta["ids"] else bm25s.BM25()
                    return cls(bm25, meta["ids"], meta["generation"])
            except (OSError, ValueError, KeyError):
                pass  # missing or damaged: rebuilt below from the store, the source of truth
            return cls.rebuild(store)

    def idf(self, term: str) -> float:
        """Inverse document frequency over chunks; a term the archive lacks gets the maximum."""
        n = len(self.ids)
        tid = getattr(self.bm25, "vocab_dict", {}).get(term) if n else None
        df = 0
        if tid is not None:
            indptr = self.bm25.scores["indptr"]
            df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) for the best k chunks that share a term with the query."""
        if not self.ids:
            return []
        tokens = tokenize([query])
        if not tokens.ids or not tokens.ids[0]:
            return []
        docs, scores = self.bm25.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False,
                                          n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

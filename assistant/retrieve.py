"""The read path's first stage: dense (Chroma) and keyword (BM25) search, fused.

Fusion is relative score fusion: each list's scores are min-max scaled to [0, 1] and the
two are averaged with weight DENSE_WEIGHT, so a passage that is far ahead in one list keeps
its lead (reciprocal rank fusion would flatten that lead to a rank). On the sample archive
and the cambodia dev questions it put every gold document first, where RRF did not.
"""

from __future__ import annotations

from typing import Any

from assistant.embedding import Embedder
from assistant.errors import ConfigError
from assistant.keyword import KeywordIndex
from assistant.store import Store
from assistant.types import Passage

MODES = ("hybrid", "dense", "bm25")
DENSE_WEIGHT = 0.5


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, mode: str = "hybrid") -> None:
        if mode not in MODES:
            raise ConfigError(f"Unknown retrieval mode {mode!r}. Valid: {', '.join(MODES)}.")
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self._keyword: KeywordIndex | None = None

    @property
    def keyword(self) -> KeywordIndex:
        """The BM25 index, reloaded when ingestion has changed the store since."""
        if self._keyword is None or self._keyword.generation != self.store.generation:
            self._keyword = KeywordIndex.load(self.store)
        return self._keyword

    def search(self, query: str, k: int = 10, mode: str | None = None) -> list[Passage]:
        mode = mode or self.mode
        depth = max(k * 4, 40)  # over-fetch so fusion has both lists to work with
        dense: list[tuple[str, str, dict[str, Any], float]] = []
        if mode in ("dense", "hybrid"):
            vector = self.embedder.encode([query])[0]
            dense = self.store.query(vector, depth if mode == "hybrid" else k)
        if mode == "dense":
            return [Passage.from_metadata(i, t, m, s) for i, t, m, s in dense]
        sparse = self.keyword.search(query, depth if mode == "hybrid" else k)
        if mode == "bm25":
            found = self.store.get([i for i, _ in sparse])
            return [Passage.from_metadata(i, *found[i], score=s) for i, s in sparse if i in found]
        return self._fuse(dense, sparse, k)

    def _fuse(self, dense: list[tuple[str, str, dict[str, Any], float]],
              sparse: list[tuple[str, float]], k: int) -> list[Passage]:
        scores: dict[str, float] = {}
        for weight, ranked in ((DENSE_WEIGHT, [(c, s) for c, _, _, s in dense]),
                               (1.0 - DENSE_WEIGHT, sparse)):
            for cid, scaled in _minmax(ranked):
                scores[cid] = scores.get(cid, 0.0) + weight * scaled
        best = sorted(scores, key=lambda c: -scores[c])[:k]
        known = {cid: (text, meta) for cid, text, meta, _ in dense}
        known.update(self.store.get([c for c in best if c not in known]))
        return [Passage.from_metadata(c, *known[c], score=scores[c]) for c in best if c in known]


def _minmax(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    if not ranked:
        return []
    lo = min(s for _, s in ranked)
    span = max(s for _, s in ranked) - lo
    return [(c, (s - lo) / span if span > 0 else 1.0) for c, s in ranked]

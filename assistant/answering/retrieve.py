"""The read path's first stage: dense (Chroma) and keyword (BM25) search, fused.

Fusion is relative score fusion: each list's scores are min-max scaled to [0, 1] and added
with weights w and 1 - w, so a passage far ahead in one list keeps its lead (reciprocal rank
fusion would flatten that lead to a rank). On the sample archive and the cambodia dev
questions it put every gold document first, where RRF did not.

The dense weight w depends on how good the keyword evidence is for this question: when the
best keyword match holds most of the question's terms (weighted by rarity, `keyword_coverage`)
keywords are trusted (`dense_weight`, 0.2); when it holds few, as for financebench's long
questions worded unlike the filings' tables, dense search leads (`dense_weight_weak_keywords`,
0.8); in between (`keyword_coverage_weak` up to `keyword_coverage`, where staff questions in
their own words fall), the two weigh alike. One fixed weight suited either cambodia or
financebench, not both (evals/results/dense-weight.md); this rule suits both and news.

Searches run on the local snapshot (assistant/index/snapshot.py, search.py): exact cosine over its copy of
the vectors and BM25, both restricted by the same mask when filtered (dates, sources, types,
archive collections), which is exact and faster than Chroma's `where`. Chroma stays the source
of truth: the texts of the passages kept come from it, and so does the last word on a chunk's
collection (a chunk moved since the snapshot was made is dropped, not shown to the wrong reader).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from assistant.errors import ConfigError, QuestionError
from assistant.index.embedding import Embedder
from assistant.index.language import detect
from assistant.index.rows import StoredChunk
from assistant.index.search import Filters
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings
from assistant.types import Passage

MODES = ("hybrid", "dense", "bm25")
FOREIGN = ("own", "english", "off")  # keyword search for a question not in English (Settings.foreign_keywords)
# Each list's length before fusion, whatever k: min-max scaling depends on it. 150, not 50: a
# page whose chunks all sit past 50th in one list still gets that list's share (financebench
# dev gold-page recall at 2,000 tokens 0.543 -> 0.587, news-2023q4 dev 0.516 -> 0.527;
# benchmarks/results/tables.md).
FUSION_DEPTH = 150
FRESHNESS_S = 2.0  # how often to look whether ingestion has changed the store
# Up to this many chunks, dense search is one exact matrix-vector product over the snapshot's
# vectors (bf16 with float32 rescoring: 2.5-6 ms at 110k chunks, faster than Chroma's HNSW
# query and exact); beyond, HNSW.
EXACT_MAX = 1_000_000
MAX_K = 1000  # passages one search may return: more is a mistake, or a way to exhaust the server


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, mode: str = "hybrid", window: int = 0,
                 dense_weight: float = Settings.dense_weight,
                 dense_weight_weak_keywords: float | None = Settings.dense_weight_weak_keywords,
                 keyword_coverage: float = Settings.keyword_coverage, page_cap: int = Settings.page_cap,
                 foreign_keywords: str = Settings.foreign_keywords,
                 keyword_coverage_weak: float | None = Settings.keyword_coverage_weak) -> None:
        """`dense_weight_weak_keywords=None`: one fixed weight, `dense_weight`;
        `keyword_coverage_weak=None`: `keyword_coverage` (two weights, no middle one)."""
        if mode not in MODES:
            raise ConfigError(f"Unknown retrieval mode {mode!r}. Valid: {', '.join(MODES)}.")
        if foreign_keywords not in FOREIGN:
            raise ConfigError(f"foreign_keywords must be one of {', '.join(FOREIGN)}, not {foreign_keywords!r}.")
        self.foreign_keywords = foreign_keywords
        weak = dense_weight if dense_weight_weak_keywords is None else dense_weight_weak_keywords
        low = keyword_coverage if keyword_coverage_weak is None else keyword_coverage_weak
        for name, value in (("dense_weight", dense_weight), ("dense_weight_weak_keywords", weak),
                            ("keyword_coverage", keyword_coverage), ("keyword_coverage_weak", low)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be a number from 0 to 1, not {value!r}.")
        self.dense_weight = float(dense_weight)
        self.dense_weight_weak_keywords = float(weak)
        self.keyword_coverage = float(keyword_coverage)
        if low > keyword_coverage:
            raise ConfigError(f"keyword_coverage_weak ({low}) must not be above keyword_coverage ({keyword_coverage}).")
        self.keyword_coverage_weak = float(low)
        if isinstance(page_cap, bool) or not isinstance(page_cap, int) or page_cap < 0:
            raise ConfigError(f"page_cap must be a whole number, 0 or more, not {page_cap!r}.")
        self.page_cap = page_cap
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.window = window
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._reloading = threading.Lock()

    def recheck(self) -> None:
        """Look at the store's generation on the next search (an ingestion just finished)."""
        self._checked = float("-inf")

    @property
    def snapshot(self) -> Snapshot:
        """The local snapshot, reloaded when ingestion has changed the store since. Safe for
        concurrent searches: one thread reloads while the others go on with the current one."""
        current = self._snapshot
        if current is not None and time.monotonic() - self._checked <= FRESHNESS_S:
            return current
        if not self._reloading.acquire(blocking=current is None):
            assert current is not None
            return current
        try:
            if self._snapshot is None or time.monotonic() - self._checked > FRESHNESS_S:
                generation = self.store.refresh_generation()
                if self._snapshot is None or self._snapshot.generation != generation:
                    self._snapshot = Snapshot.load(self.store)
                self._checked = time.monotonic()
            return self._snapshot
        finally:
            self._reloading.release()

    def search(self, query: str, k: int = 10, mode: str | None = None,
               filters: Filters | None = None, window: int | None = None,
               vector: Any = None) -> list[Passage]:
        """`vector`: the query's embedding where the caller has it already (`vector(query)`):
        one question is searched several times (within the last answer's documents, in the
        years it names, in the whole archive), and its sentences scored against it."""
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise QuestionError(f"The number of passages must be a whole number from 1 to {MAX_K}, not {k!r}.")
        mode = mode or self.mode
        window = self.window if window is None else window
        language = self.language(query) if mode != "dense" else None
        if language is not None and mode == "hybrid" and self.foreign_keywords == "off":
            mode = "dense"
        depth = max(k, FUSION_DEPTH) if mode == "hybrid" or self.page_cap else k
        snap = self.snapshot  # one snapshot for the whole search: a mask fits only its own
        mask = snap.mask(filters) if filters else None
        if mask is not None and not mask.any():
            return []  # nothing the filters keep (no readable collection, say): nothing to embed
        dense: list[tuple[str, float]] = []
        if mode in ("dense", "hybrid"):
            vector = self.vector(query) if vector is None else vector
            if mask is None and snap.size > EXACT_MAX:
                dense = self.store.query(vector, depth)  # Chroma's HNSW index: sublinear
            else:
                dense = snap.dense(vector, depth, mask)
        sparse = snap.keyword(query, depth, mask, language) if mode in ("bm25", "hybrid") else []
        ranked = dense if mode == "dense" else sparse if mode == "bm25" else \
            _fuse(dense, sparse, self.fusion_weight(snap, query, sparse, language))
        if self.page_cap:
            ranked = snap.spread(ranked, self.page_cap)
        readable = _readable(filters)
        if window <= 0:
            ranked = ranked[:k]
            known = _within(self.store.get([c for c, _ in ranked]), readable)  # texts for the k kept only
            return [Passage.from_metadata(c, known[c].text, known[c].meta, score=s) for c, s in ranked if c in known]
        return self._expand(snap, ranked, k, window, readable)

    def following(self, passage: Passage, filters: Filters | None = None) -> list[Passage]:
        """The chunk after `passage` in its document (same page), where the filters let it be
        read: an article's answer often sits just past the chunk that matched its question.
        None where passages hold their neighbours already (`window`)."""
        if self.window > 0:
            return []
        snap = self.snapshot
        ids = snap.kept(snap.neighbours(passage.id, 0, 1)[1:], snap.mask(filters) if filters else None)
        readable = _readable(filters)
        known = _within(self.store.get(ids), readable) if ids else {}
        return [Passage.from_metadata(c, known[c].text, known[c].meta, score=passage.score) for c in ids if c in known]

    def vector(self, query: str) -> Any:
        """The query's embedding (as a search query)."""
        return self.embedder.encode_query(query)

    def language(self, query: str) -> str | None:
        """The query's language where its keywords are made its own way (`foreign_keywords`
        own or off), when it is not English; else None (keywords as for English)."""
        if self.foreign_keywords == "english":
            return None
        code = detect(query)
        return None if code in (None, "en") else code

    def fusion_weight(self, snap: Snapshot, query: str, sparse: list[tuple[str, float]],
                      language: str | None = None) -> float:
        """The dense weight for this question: `dense_weight` when the best keyword match holds
        at least `keyword_coverage` of its terms, `dense_weight_weak_keywords` when it holds
        less than `keyword_coverage_weak`, and the mean of the two in between."""
        if self.dense_weight_weak_keywords == self.dense_weight or not sparse:
            return self.dense_weight
        covered = snap.coverage(query, sparse[0][0], language)
        if covered >= self.keyword_coverage:
            return self.dense_weight
        if covered < self.keyword_coverage_weak:
            return self.dense_weight_weak_keywords
        return (self.dense_weight + self.dense_weight_weak_keywords) / 2

    def _expand(self, snap: Snapshot, ranked: list[tuple[str, float]], k: int, window: int,
                readable: set[str] | None) -> list[Passage]:
        """Each hit with `window` chunks on either side (same document and page), so the
        passage holds the text around the match; chunks already shown are not repeated."""
        used: set[str] = set()
        groups = []
        for cid, score in ranked:
            if cid in used:
                continue
            ids = [i for i in snap.neighbours(cid, window, window) if i not in used]
            used.update(ids)
            groups.append((cid, ids, score))
            if len(groups) == k:
                break
        known = _within(self.store.get([i for _, ids, _ in groups for i in ids]), readable)
        out = []
        for cid, ids, score in groups:
            if cid in known:
                text = join_chunks([known[i].text for i in ids if i in known])
                out.append(Passage.from_metadata(cid, text, known[cid].meta, score=score))
        return out


def _readable(filters: Filters | None) -> set[str] | None:
    """The collections the filters let be read (None: all)."""
    return None if filters is None or filters.collections is None else set(filters.collections)


def _within(chunks: dict[str, StoredChunk], readable: set[str] | None) -> dict[str, StoredChunk]:
    """The chunks whose collection, as Chroma has it now, is readable (None: all)."""
    if readable is None:
        return chunks
    return {c: s for c, s in chunks.items() if s.meta.collection in readable}


def join_chunks(texts: list[str]) -> str:
    """Consecutive chunks as one text, without the sentences that overlapping chunks share."""
    out = texts[0] if texts else ""
    for text in texts[1:]:
        shared = _overlap(out, text)
        out += (" " if not shared else "") + text[shared:]
    return out


def _overlap(a: str, b: str) -> int:
    """Length of the longest end of `a`, starting at a word, that `b` starts with (overlapping
    chunks share whole sentences; only the last 2,000 characters are searched)."""
    i = a.find(b[:1], max(0, len(a) - 2000)) if b else -1
    while i != -1:
        if (i == 0 or a[i - 1].isspace()) and b.startswith(a[i:]):
            return len(a) - i
        i = a.find(b[:1], i + 1)
    return 0


def _fuse(dense: list[tuple[str, float]], sparse: list[tuple[str, float]],
          dense_weight: float) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for weight, ranked in ((dense_weight, dense), (1.0 - dense_weight, sparse)):
        for cid, scaled in _minmax(ranked):
            scores[cid] = scores.get(cid, 0.0) + weight * scaled
    return sorted(scores.items(), key=lambda item: -item[1])


def _minmax(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    if not ranked:
        return []
    lo = min(s for _, s in ranked)
    span = max(s for _, s in ranked) - lo
    return [(c, (s - lo) / span if span > 0 else 1.0) for c, s in ranked]


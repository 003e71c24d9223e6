"""Filters by date, source and document type: exact, and equal to Chroma's own `where` filter."""

from pathlib import Path

import pytest

from assistant import Assistant, QuestionError
from assistant.index.meta import DATE_NUM
from assistant.index.snapshot import Filters
from assistant.service import make_filters


@pytest.fixture(scope="module")
def assistant(sample_store: Path) -> Assistant:
    return Assistant(store=sample_store)


def test_user_dates_become_inclusive_bounds() -> None:
    assert make_filters("2023", "2023") == Filters(20230000, 20239999)
    assert make_filters("2023-08-01", "2023-08") == Filters(20230801, 20230899)
    assert make_filters(source="Ledger", kind=["pdf", "html"]) == Filters(None, None, ("Ledger",), ("pdf", "html"))
    with pytest.raises(QuestionError, match="Cannot read the date"):
        make_filters("last tuesday")


def test_date_filter_keeps_only_documents_in_range(assistant: Assistant) -> None:
    passages = assistant.search("OHCHR report government response", k=20, since="2023-08-01", until="2023-12-31")
    assert passages
    assert all(p.date and "2023-08-01" <= p.date <= "2023-12-31" for p in passages)
    unfiltered = assistant.search("OHCHR report government response", k=20)
    assert any(p.date and not "2023-08-01" <= p.date <= "2023-12-31" for p in unfiltered)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_source_and_type_filters(sample_store: Path, mode: str) -> None:
    a = Assistant(store=sample_store, retrieval=mode)
    html = a.search("government statement", k=10, kind="html")
    assert html and all(p.path.endswith(".html") for p in html)
    radio = a.search("Special Rapporteur", k=10, source="Radio Sennport News Desk")
    assert radio and all(p.source == "Radio Sennport News Desk" for p in radio)
    assert a.search("Special Rapporteur", k=10, source="No Such Outlet") == []


def test_filtered_dense_search_equals_chromas_where(assistant: Assistant) -> None:
    query = "detention conditions and overcrowding"
    ours = assistant.retriever.search(query, k=8, mode="dense", filters=make_filters(since="2022-01-01"))
    vector = assistant.embedder.encode([query])[0]
    theirs = assistant.store.chunks.query(query_embeddings=[vector], n_results=8,
                                          where={DATE_NUM: {"$gte": 20220101}})
    # Chroma's distances are ~1e-3 off exact cosine, so near-ties may swap: compare scores by
    # id, and membership away from the cut-off.
    chroma = {i: 1 - d for i, d in zip(theirs["ids"][0], theirs["distances"][0])}
    mine = {p.id: p.score for p in ours}
    for cid in mine.keys() & chroma.keys():
        assert mine[cid] == pytest.approx(chroma[cid], abs=5e-3)
    cutoff = min(mine.values())
    assert all(abs(mine.get(c, chroma.get(c, 0)) - cutoff) < 5e-3 for c in mine.keys() ^ chroma.keys())
    assert len(mine.keys() & chroma.keys()) >= 6


def test_ask_with_a_filter_that_excludes_the_answer_refuses(assistant: Assistant) -> None:
    q = "When did the UN Special Rapporteur visit Sennport?"
    assert not assistant.ask(q, since="2022-01-01", until="2022-12-31").refused
    assert assistant.ask(q, kind="docx").refused


def test_unfiltered_dense_search_is_exact_and_agrees_with_chroma(assistant: Assistant) -> None:
    query = "press freedom and journalists"
    ours = assistant.retriever.search(query, k=8, mode="dense")
    vector = assistant.embedder.encode([query])[0]
    theirs = dict(assistant.store.query(vector, 8))
    assert [p.score for p in ours] == sorted((p.score for p in ours), reverse=True)
    assert len({p.id for p in ours} & theirs.keys()) >= 6
    for p in ours:
        if p.id in theirs:
            assert p.score == pytest.approx(theirs[p.id], abs=5e-3)


@pytest.mark.parametrize("segmented", [False, True])
@pytest.mark.parametrize("kind", ["int8", "bf16"])
@pytest.mark.parametrize("filtered", [False, True])
def test_dense_search_on_compact_vectors_returns_the_exact_float32_top_k(monkeypatch: pytest.MonkeyPatch,
                                                                          filtered: bool, kind: str,
                                                                          segmented: bool) -> None:
    """The int8 or bf16 product only picks candidates; the top k must be the float32 one, also
    among near-ties (clusters of near-duplicate vectors) that it alone would misorder. Also over
    a base and a tail segment, base rows removed: never one of those."""
    import numpy as np

    import assistant.index.dense
    import assistant.index.embedding
    from assistant.index.postings import Postings
    from assistant.index.segment import build
    from assistant.index.snapshot import Snapshot

    def segment(rows: range) -> object:
        n = len(rows)
        values = {"dates": np.zeros(n, dtype=np.int64), "sources": [""] * n, "kinds": [""] * n,
                  "docs": [f"d{i}" for i in rows], "positions": np.zeros(n, np.int32),
                  "pages": np.zeros(n, np.int32), "collections": ["main"] * n}
        return build([f"c{i}" for i in rows], values, vectors[rows.start:rows.stop],
                     Postings.build([np.zeros(0, np.int32)] * n, []))

    monkeypatch.setattr(assistant.index.embedding, "cpu_has_bf16", lambda: True)
    if kind == "bf16":
        monkeypatch.setattr(assistant.index.dense, "_has_int8_kernel", lambda dim: False)
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(50, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 50, 20_000)] + rng.normal(0, 0.02, (20_000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    n = len(vectors)
    cut = 15_000 if segmented else n
    removed = rng.random(cut) < 0.2 if segmented else None
    snap = Snapshot("g", segment(range(cut)), segment(range(cut, n)) if segmented else None, removed)  # type: ignore[arg-type]
    mask = rng.random(n) < 0.3 if filtered else None
    live = np.concatenate([~removed, np.ones(n - cut, dtype=bool)]) if removed is not None else None
    if mask is not None and live is not None:
        mask &= live
    for q in range(20):
        query = vectors[q] + rng.normal(0, 0.05, 384).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = vectors @ query
        if mask is not None or live is not None:
            exact = np.where(mask if mask is not None else live, exact, -np.inf)
        got = snap.dense(query, 50, mask)
        assert all(p._scorer is not None and p._scorer.kind == kind for p in snap.parts)
        assert len(snap.parts) == (2 if segmented else 1)
        rows = [int(c[1:]) for c, _ in got]
        scores = np.array([s for _, s in got])
        # float32 scores of the chunks returned, and equal to the 50 best float32 scores
        # (chunks whose scores differ by float32 rounding alone may swap places)
        assert np.allclose(scores, exact[rows], atol=1e-6)
        assert np.allclose(scores, np.sort(exact)[::-1][:50], atol=1e-6)
        assert len(set(rows)) == 50 and (mask is None or mask[rows].all()) and (live is None or live[rows].all())

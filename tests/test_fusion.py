"""Hybrid fusion: the dense weight's ends are the two lists themselves, the weight follows how
much of the question the best keyword match holds, and a bad weight is a clear error."""

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import ConfigError

QUESTION = "Why did the government reject the OHCHR report?"


def ids(a: Assistant, **kw: object) -> list[str]:
    return [p.id for p in a.retriever.search(QUESTION, 8, **kw)]  # type: ignore[arg-type]


def test_weight_one_is_dense_and_zero_is_bm25(sample_store: Path) -> None:
    all_dense = Assistant(store=sample_store, dense_weight=1.0, dense_weight_weak_keywords=1.0)
    all_bm25 = Assistant(store=sample_store, dense_weight=0.0, dense_weight_weak_keywords=0.0)
    assert ids(all_dense) == ids(all_dense, mode="dense")
    assert ids(all_bm25) == ids(all_bm25, mode="bm25")
    assert ids(all_dense) != ids(all_bm25)  # the sample archive tells them apart
    default = Assistant(store=sample_store)
    assert default.retriever.dense_weight == default.settings.dense_weight == 0.2


def test_the_weight_follows_how_much_of_the_question_the_best_keyword_match_holds(sample_store: Path) -> None:
    a = Assistant(store=sample_store)
    r, snap = a.retriever, a.retriever.snapshot
    # Every term of this question is in the archive's text about the 2023 review.
    covered = "Why did Marvala reject the OHCHR report?"
    best = snap.keyword(covered, 1)
    assert snap.coverage(covered, best[0][0]) >= r.keyword_coverage
    assert r.fusion_weight(snap, covered, best) == a.settings.dense_weight == 0.2
    # Long and worded unlike the archive: the best keyword match holds few of its rare terms.
    loose = ("What capital expenditure amount in USD millions did Marvala report for fiscal 2023, "
             "relying on the details shown in its cash flow statement?")
    best = snap.keyword(loose, 1)
    assert best and snap.coverage(loose, best[0][0]) < r.keyword_coverage_weak
    assert r.fusion_weight(snap, loose, best) == a.settings.dense_weight_weak_keywords == 0.8
    # In its own words, as staff ask: the best match holds part of it, and the two weigh alike.
    own = "What did officials say about the foreign funding of rights groups?"
    best = snap.keyword(own, 1)
    assert r.keyword_coverage_weak <= snap.coverage(own, best[0][0]) < r.keyword_coverage
    assert r.fusion_weight(snap, own, best) == pytest.approx(0.5)
    two = Assistant(store=sample_store, keyword_coverage_weak=0.75).retriever  # two weights only
    assert two.fusion_weight(snap, own, best) == 0.8
    # One fixed weight when both are set alike
    fixed = Assistant(store=sample_store, dense_weight=0.4, dense_weight_weak_keywords=0.4).retriever
    assert fixed.fusion_weight(snap, loose, best) == 0.4


@pytest.mark.parametrize("field, weight, why", [
    ("dense_weight", -0.1, "dense_weight must be a number from 0 to 1"),
    ("dense_weight", 1.5, "dense_weight must be a number from 0 to 1"),
    ("dense_weight", "half", "dense_weight='half' is not a valid float"),
    ("dense_weight_weak_keywords", 2, "dense_weight_weak_keywords must be a number from 0 to 1"),
    ("keyword_coverage", -1, "keyword_coverage must be a number from 0 to 1"),
    ("keyword_coverage_weak", 0.9, r"keyword_coverage_weak \(0.9\) must not be above keyword_coverage \(0.75\)"),
])
def test_a_weight_outside_0_to_1_is_a_clear_error(sample_store: Path, field: str, weight: object,
                                                   why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        Assistant(store=sample_store, **{field: weight})


def test_page_cap_spreads_a_pdfs_passages_over_its_pages(tmp_path: Path) -> None:
    """page_cap 1: a page's further chunks follow every other page's best chunk, so the top
    passages come from different pages; documents without pages keep their places."""
    from ingest import ingest

    from pdfgen import write_pdf

    def fees(n: int) -> str:
        return " ".join(f"The port authority raised harbour berth fees for vessel class {chr(65 + i % 7)} "
                        f"by {n + i} percent in quarter {i}." for i in range(40))

    def other(n: int) -> str:
        return " ".join(f"Crew rota {n}.{i}: the {i}th shift at the {chr(65 + i % 7)} gate changed "
                        f"over at {i % 12} o'clock, and the canteen served fish." for i in range(40)) + \
            " The port authority raised harbour berth fees once more."

    (tmp_path / "docs").mkdir()
    write_pdf(tmp_path / "docs" / "tariffs.pdf", [fees(1), other(2), other(3), other(4)])
    (tmp_path / "docs" / "note.md").write_text("# Fees\n\n" + fees(9).replace("harbour", "dock"))
    store = tmp_path / "store"
    assert ingest([tmp_path / "docs"], store=store).ok
    plain, capped = Assistant(store=store, page_cap=0), Assistant(store=store)
    assert capped.settings.page_cap == 1
    question = "How much did the port authority raise harbour berth fees?"
    assert {p.page for p in capped.search(question, k=4, kind="pdf")} == {1, 2, 3, 4}
    assert {p.page for p in plain.search(question, k=4, kind="pdf")} == {1}  # the relevant page fills it

    snap = plain.retriever.snapshot
    ranked = [(cid, 1.0 - i / 1000) for i, cid in enumerate(snap.ids)]
    spread = snap.spread(ranked, 1)
    assert sorted(spread) == sorted(ranked)
    pages = [int(snap.pages[snap._row[c]]) for c, _ in spread]
    paged = [p for p in pages if p]
    assert paged[:4] == sorted(set(paged)) and len(paged) > 4  # one chunk of each page first
    unpaged = [c for c, _ in ranked if not snap.pages[snap._row[c]]]
    assert [c for c, _ in spread[:len(unpaged) + 4] if not snap.pages[snap._row[c]]] == unpaged
    with pytest.raises(ConfigError, match="page_cap"):
        Assistant(store=store, page_cap=-1)

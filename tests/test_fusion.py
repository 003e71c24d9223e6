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
    assert best and snap.coverage(loose, best[0][0]) < r.keyword_coverage
    assert r.fusion_weight(snap, loose, best) == a.settings.dense_weight_weak_keywords == 0.8
    # One fixed weight when both are set alike
    fixed = Assistant(store=sample_store, dense_weight=0.4, dense_weight_weak_keywords=0.4).retriever
    assert fixed.fusion_weight(snap, loose, best) == 0.4


@pytest.mark.parametrize("field, weight, why", [
    ("dense_weight", -0.1, "dense_weight must be a number from 0 to 1"),
    ("dense_weight", 1.5, "dense_weight must be a number from 0 to 1"),
    ("dense_weight", "half", "dense_weight='half' is not a valid float"),
    ("dense_weight_weak_keywords", 2, "dense_weight_weak_keywords must be a number from 0 to 1"),
    ("keyword_coverage", -1, "keyword_coverage must be a number from 0 to 1"),
])
def test_a_weight_outside_0_to_1_is_a_clear_error(sample_store: Path, field: str, weight: object,
                                                   why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        Assistant(store=sample_store, **{field: weight})

"""Hybrid fusion: the dense weight's ends are the two lists themselves, and a bad weight is a
clear error."""

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import ConfigError

QUESTION = "Why did the government reject the OHCHR report?"


def ids(a: Assistant, **kw: object) -> list[str]:
    return [p.id for p in a.retriever.search(QUESTION, 8, **kw)]  # type: ignore[arg-type]


def test_weight_one_is_dense_and_zero_is_bm25(sample_store: Path) -> None:
    all_dense = Assistant(store=sample_store, dense_weight=1.0)
    all_bm25 = Assistant(store=sample_store, dense_weight=0.0)
    assert ids(all_dense) == ids(all_dense, mode="dense")
    assert ids(all_bm25) == ids(all_bm25, mode="bm25")
    assert ids(all_dense) != ids(all_bm25)  # the sample archive tells them apart
    default = Assistant(store=sample_store)
    assert default.retriever.dense_weight == default.settings.dense_weight == 0.2


@pytest.mark.parametrize("weight, why", [(-0.1, "dense_weight must be a number from 0 to 1"),
                                         (1.5, "dense_weight must be a number from 0 to 1"),
                                         ("half", "dense_weight='half' is not a valid float")])
def test_a_weight_outside_0_to_1_is_a_clear_error(sample_store: Path, weight: object, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        Assistant(store=sample_store, dense_weight=weight)

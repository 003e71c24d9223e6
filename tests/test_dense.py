"""The dense first pass's bounds: every approximate score lies within its bound of the float32
score, for the model's own vectors and for vectors with outlying dimensions, so that rescoring
the candidates the bounds admit gives the exact top k (tests/test_filters.py checks the top k)."""

import numpy as np
import pytest

from assistant.index.dense import Scorer, _has_int8_kernel, _round_up_bf16
from assistant.index.embedding import load_embedder


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _sets() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    texts = [f"Report {i} on the {w} of detainees in province {i % 7}" for i, w in
             enumerate(["treatment", "release", "numbers", "health", "trials"] * 40)]
    model = load_embedder("all-MiniLM-L6-v2").encode(texts)
    spiky = rng.normal(size=(2000, 384))
    spiky[:, :3] *= 30  # a few dimensions far larger than the rest, as some models have
    return [_unit(model), _unit(spiky), _unit(rng.normal(size=(5000, 384)))]


@pytest.mark.parametrize("bf16", [True, False])
def test_every_approximate_score_is_within_its_bound(bf16: bool) -> None:
    import torch

    for number, vectors in enumerate(_sets()):
        scorer = Scorer(vectors, bf16)
        assert scorer.kind == ("int8" if _has_int8_kernel(384) else "bf16") if bf16 else scorer.kind == "float32"
        rng = np.random.default_rng(11)
        for query in _unit(np.vstack([vectors[:5] + rng.normal(0, 0.05, (5, 384)), rng.normal(size=(5, 384))])):
            approx, bound = scorer.scores(torch.from_numpy(query))
            exact = vectors.astype(np.float64) @ query.astype(np.float64)
            assert approx.shape == exact.shape
            assert (np.abs(approx - exact) <= bound + 1e-6).all()  # float32 itself: to its own rounding
            if scorer.kind == "int8" and number == 0:  # for the model's vectors, about bf16's 0.0125:
                assert float(np.median(bound)) < 0.025  # not so loose that everything is a candidate


def test_scales_round_up_so_every_value_fits_int8() -> None:
    import torch

    values = torch.tensor([1e-30, 0.001, 0.00237, 1 / 127, 0.5, 3.0])
    up = _round_up_bf16(values)
    assert up.dtype == torch.bfloat16 and (up.float() >= values).all()
    assert ((up.float() - values) / values <= 2.0 ** -7).all()

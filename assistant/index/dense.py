"""Dense search's first pass: every chunk's cosine with the query, approximately, from a compact
copy of the snapshot's vectors, with a bound on each score's error. The search then rescores in
float32 only the chunks whose bound lets them into the top k, which makes its result the exact
one (assistant/index/search.py, `SnapshotSearch.dense`).

The product over all chunks is limited by memory traffic (85 ms for 1M chunks in bf16 here), so
the copy is as small as the CPU allows:
- int8 with one scale per row, where the CPU has bf16 and torch its int8 weight kernel
  (`_weight_int8pack_mm`): 19 ms for 1M chunks, a quarter of the bytes of float32;
- bf16 where the CPU has it but not the kernel: half the bytes;
- float32 elsewhere: exact, no rescoring.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Bound on |bf16 score - float32 score| for unit vectors: rounding the vectors, the query and
# the result to bf16 (2^-8 each, relative) plus float32 accumulation over 384 terms.
BF16_ERROR = 0.0125
ROUNDING = 2.0 ** -8  # bf16's relative rounding error (8 significant bits, rounded to nearest)
SLICE = 8192  # rows converted at a time: the float32 vectors are memory-mapped, never copied whole


class Scorer:
    """The compact copy of the vectors and its scores. `kind`: int8, bf16 or float32."""

    def __init__(self, vectors: np.ndarray, bf16: bool) -> None:
        import torch

        n, dim = vectors.shape
        self.kind = "int8" if bf16 and _has_int8_kernel(dim) else "bf16" if bf16 else "float32"
        if self.kind == "int8":
            self.matrix = torch.empty((n, dim), dtype=torch.int8)
            self.half_steps = np.empty(n, dtype=np.float32)  # each row's rounding step over 2
            scales = torch.empty(n, dtype=torch.bfloat16)
            for i in range(0, n, SLICE):
                rows = torch.from_numpy(np.array(vectors[i:i + SLICE], dtype=np.float32))
                scale = _round_up_bf16(rows.abs().amax(dim=1).clamp_min(1e-30) / 127)
                self.matrix[i:i + SLICE] = torch.round(rows / scale.float()[:, None]).clamp_(-127, 127).to(torch.int8)
                scales[i:i + SLICE] = scale
                self.half_steps[i:i + SLICE] = scale.float().numpy() / 2
            self.scales = scales
        else:
            self.matrix = torch.empty((n, dim), dtype=torch.bfloat16 if bf16 else torch.float32)
            for i in range(0, n, SLICE):
                self.matrix[i:i + SLICE] = torch.from_numpy(np.array(vectors[i:i + SLICE], dtype=np.float32))

    @property
    def exact(self) -> bool:
        return self.kind == "float32"

    def scores(self, query: Any) -> tuple[np.ndarray, np.ndarray | float]:
        """Every row's approximate score for the float32 query tensor, and the bound on its error
        (per row, or one for all)."""
        import torch

        if self.kind == "float32":
            return torch.mv(self.matrix, query).numpy(), 0.0
        x = query.to(torch.bfloat16)
        if self.kind == "bf16":
            return torch.mv(self.matrix, x).float().numpy(), BF16_ERROR
        approx = torch._weight_int8pack_mm(x[None, :], self.matrix, self.scales)[0].float().numpy()
        # Each stored value is within half its row's step of the true one, so the product is
        # within half a step times the query's L1 norm; then the query's and the result's
        # rounding to bf16, and a margin for float32 accumulation.
        spread = self.half_steps * float(x.float().abs().sum())
        return approx, spread + ROUNDING * (1.0 + np.abs(approx) + spread) + 1e-4


def _round_up_bf16(values: Any) -> Any:
    """The smallest bf16 at or above each value: a row divided by its scale then stays within
    127, and int8 holds it."""
    import torch

    rounded = values.to(torch.bfloat16)
    low = rounded.float() < values
    return torch.where(low, torch.nextafter(rounded, torch.full_like(rounded, float("inf"))), rounded)


def _has_int8_kernel(dim: int) -> bool:
    """Whether this torch has the int8 weight kernel on the CPU, for rows of `dim` values, and it
    computes what it should. Only where `dim` is a multiple of 64 (384 for the models here): on
    other lengths the kernel was seen to return NaN (8 values) or crash the process (2)."""
    import torch

    if dim <= 0 or dim % 64:
        return False
    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.integers(-127, 128, (8, dim), dtype=np.int8))
    x = torch.from_numpy(rng.normal(size=(1, dim)).astype(np.float32)).to(torch.bfloat16)
    scales = torch.from_numpy(rng.uniform(0.001, 0.01, 8).astype(np.float32)).to(torch.bfloat16)
    try:
        got = torch._weight_int8pack_mm(x, w, scales)[0].float()
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    want = x.float()[0] @ (w.float() * scales.float()[:, None]).T
    return bool(torch.isfinite(got).all() and ((got - want).abs() <= ROUNDING * (want.abs() + 1e-3) * 2).all())

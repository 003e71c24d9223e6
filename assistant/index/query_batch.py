"""Question vectors for a served team: the questions asked at once are encoded in one call of the
model. Twenty staff asking at once queue on the one model; encoded one by one, each pays the
model's fixed cost per call, while the one who holds the model can encode everyone waiting in
a single call (benchmarks/load.py measures what that buys).

No question waits for others to arrive: whoever finds the model free encodes what is queued
then, its own question included, so a lone question costs what it did before. Nothing is
remembered across calls (one answer passes its question's vector along itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

MOST = 32  # questions in one call of the model


class _Wanted:
    __slots__ = ("error", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class QueryBatcher:
    """`batcher(text)`: the text's vector as a search query. `encode(texts)` encodes a batch and
    is called holding `model_lock`, the lock every other use of the model holds too."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], model_lock: threading.Lock,
                 most: int = MOST) -> None:
        self._encode = encode
        self._model = model_lock
        self._most = most
        self._queued: list[_Wanted] = []
        self._guard = threading.Lock()  # the queue; never held while encoding
        self.calls = 0  # calls of the model, for tests and benchmarks
        self.encoded = 0  # texts encoded in them

    def __call__(self, text: str) -> np.ndarray:
        wanted = _Wanted(text)
        with self._guard:
            self._queued.append(wanted)
        while wanted.vector is None and wanted.error is None:
            with self._model:
                if wanted.vector is None and wanted.error is None:  # nobody took it while we waited
                    self._run()
        if wanted.error is not None:
            raise wanted.error
        assert wanted.vector is not None
        return wanted.vector

    def many(self, texts: list[str]) -> np.ndarray:
        return np.stack([self(t) for t in texts])

    def _run(self) -> None:
        """Encode the queue's first `most` questions (a text asked twice, once) and hand each
        its vector."""
        with self._guard:
            batch, self._queued = self._queued[:self._most], self._queued[self._most:]
        texts = list(dict.fromkeys(w.text for w in batch))
        try:
            vectors = self._encode(texts)
        except BaseException as e:  # each waiting question raises it, not only this thread's
            for w in batch:
                w.error = e
            raise
        self.calls += 1
        self.encoded += len(texts)
        by_text = dict(zip(texts, np.asarray(vectors, dtype=np.float32)))
        for w in batch:
            w.vector = by_text[w.text].copy()  # each its own: a caller may change it

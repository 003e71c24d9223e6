"""Questions asked at once share one call of the model (assistant/index/query_batch.py): each
still gets its own question's vector, a lone question is not kept waiting, and a failing model
fails every question that waited on it."""

import threading
import time

import numpy as np
import pytest

from assistant.index.embedding import load_embedder
from assistant.index.query_batch import QueryBatcher


class SlowModel:
    """A stand-in for the model whose calls take long enough for questions to queue behind one
    (a vector per text: its length and first letter, so each caller's can be checked)."""

    def __init__(self, seconds: float = 0.05, fail: bool = False) -> None:
        self.seconds, self.fail = seconds, fail
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("the model failed")
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def ask_at_once(batcher: QueryBatcher, texts: list[str]) -> tuple[dict[int, np.ndarray], list[BaseException]]:
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(texts))

    def one(i: int) -> None:
        start.wait()
        try:
            got[i] = batcher(texts[i])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got, errors


def test_questions_asked_at_once_share_calls_and_each_gets_its_own_vector() -> None:
    model = SlowModel()
    batcher = QueryBatcher(model, threading.Lock(), most=8)
    texts = [f"{chr(97 + i % 26)}question {'x' * i}" for i in range(20)]
    got, errors = ask_at_once(batcher, texts)
    assert not errors
    for i, text in enumerate(texts):
        assert got[i].tolist() == [len(text), ord(text[0])]
    # The first call finds one question (or a few); the rest queue behind it and are taken together.
    assert batcher.calls == len(model.batches) <= 6
    assert max(len(b) for b in model.batches) == 8  # never more than `most` in one call
    assert sorted(t for b in model.batches for t in b) == sorted(texts)  # each encoded once


def test_a_question_asked_twice_at_once_is_encoded_once_and_each_caller_owns_its_copy() -> None:
    model = SlowModel()
    batcher = QueryBatcher(model, threading.Lock())
    busy = threading.Thread(target=batcher, args=("first",))
    busy.start()
    time.sleep(0.01)  # the model is busy with "first": the next two queue together
    got, errors = ask_at_once(batcher, ["same question", "same question"])
    busy.join()
    assert not errors and model.batches[1] == ["same question"]
    got[0][0] = -1.0
    assert got[1][0] == len("same question")


def test_a_lone_question_is_encoded_at_once() -> None:
    model = SlowModel(seconds=0.0)
    batcher = QueryBatcher(model, threading.Lock())
    start = time.perf_counter()
    assert batcher("why").tolist() == [3, ord("w")]
    assert time.perf_counter() - start < 0.05 and model.batches == [["why"]]


def test_a_failing_model_fails_every_question_waiting_on_it_and_the_next_call_works() -> None:
    model = SlowModel(fail=True)
    batcher = QueryBatcher(model, threading.Lock())
    got, errors = ask_at_once(batcher, [f"q{i}" for i in range(6)])
    assert not got and len(errors) == 6 and all("the model failed" in str(e) for e in errors)
    model.fail = False
    assert batcher("again").tolist() == [5, ord("a")]


def test_real_questions_encoded_together_equal_each_encoded_alone() -> None:
    """The real model, its questions padded to one length in a batch: each vector equals the
    question's own to bf16 precision, as encode_query's bucket padding does."""
    embedder = load_embedder("all-MiniLM-L6-v2", "auto")
    questions = ["Why?", "Why did Marvala reject the 2023 OHCHR report?",
                 "Who responded to the ministry's statement about the remand centres in Sennport, and when?"]
    with embedder._lock:
        together = embedder._query_batch(questions)
    for q, v in zip(questions, together):
        alone = embedder.encode_query(q)
        assert float(v @ alone) > 0.995 and float(v @ embedder.encode([q])[0]) > 0.995
    assert embedder.encode_queries(questions).shape == (3, embedder.dim)
    assert embedder.encode_queries([]).shape == (0, embedder.dim)


@pytest.mark.parametrize("n", [1, 8])
def test_the_served_embedder_batches_concurrent_questions(n: int) -> None:
    embedder = load_embedder("all-MiniLM-L6-v2", "auto")
    questions = [f"What did report {i} say about the budget?" for i in range(n)]
    before = embedder._queries.calls
    got, errors = ask_at_once(embedder._queries, questions)
    assert not errors and len(got) == n
    assert embedder._queries.calls - before <= max(1, n // 2)  # at least two questions a call on average
    for i, q in enumerate(questions):
        assert float(got[i] @ embedder.encode([q])[0]) > 0.995

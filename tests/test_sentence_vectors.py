"""Sentence vectors remembered by their text (assistant/index/sentence_vectors.py): the real model's
vectors, each sentence encoded once, memory bounded, and answers as before."""

from __future__ import annotations

import threading

import numpy as np

from assistant.index.embedding import load_embedder
from assistant.index.sentence_vectors import SentenceVectors

SENTENCES = [f"The ministry issued statement number {n} on the report." for n in range(40)]


class Counting:
    """The real embedder, counting the texts it is asked to encode."""

    def __init__(self) -> None:
        self.inner = load_embedder("all-MiniLM-L6-v2")
        self.dim = self.inner.dim
        self.texts: list[str] = []

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return self.inner.encode_sentences(texts)


def test_each_sentence_is_encoded_once_and_its_vector_is_the_models() -> None:
    model = Counting()
    vectors = SentenceVectors(model, limit_mb=8)
    first = vectors.encode(SENTENCES[:10] + SENTENCES[:2])  # a repeat within one call too
    assert model.texts == SENTENCES[:10]
    again = vectors.encode(SENTENCES[5:15])
    assert model.texts == SENTENCES[:15]  # only the five new ones
    assert np.array_equal(again[:5], first[5:10])
    direct = model.inner.encode(SENTENCES[:15])
    # bf16 kernels round differently for batches of other shapes: the same sentence's vectors
    # from two batches agree to about 0.5%; another sentence's lie far below.
    products = np.vstack([first[:10], again[5:]]) @ direct.T
    assert np.abs(np.diag(products) - 1).max() < 0.01
    assert (products - np.eye(15) * 10).max() < 0.98
    assert (vectors.hits, vectors.misses) == (2 + 5, 15)


def test_memory_stays_within_its_limit_and_forgets_the_least_recently_used() -> None:
    model = Counting()
    one = SentenceVectors(model, limit_mb=1).encode(SENTENCES[:1])[0]
    cost = one.nbytes + len(SENTENCES[0]) + 200
    vectors = SentenceVectors(model, limit_mb=10 * cost / 2**20)
    vectors.encode(SENTENCES[:10])
    vectors.encode(SENTENCES[:1])  # used again: now the most recent
    vectors.encode(SENTENCES[10:15])
    assert len(vectors) <= 10 and vectors.size <= vectors.limit
    model.texts.clear()
    vectors.encode([SENTENCES[0], SENTENCES[1]])
    assert model.texts == [SENTENCES[1]]  # the first was kept, the second forgotten


def test_zero_remembers_nothing() -> None:
    model = Counting()
    vectors = SentenceVectors(model, limit_mb=0)
    vectors.encode(SENTENCES[:3])
    vectors.encode(SENTENCES[:3])
    assert model.texts == SENTENCES[:3] * 2 and len(vectors) == 0


def test_answers_at_once_share_what_is_remembered() -> None:
    model = Counting()
    vectors = SentenceVectors(model, limit_mb=8)
    results: list[np.ndarray] = []

    def work(k: int) -> None:
        results.append(vectors.encode(SENTENCES[k:k + 20]))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 5, 10, 15, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = vectors.encode(SENTENCES)
    assert len(set(model.texts)) == 40 and len(vectors) == 40
    for got in results:  # each row is one of the sentences' vectors, as remembered
        assert all(np.abs(final @ row - 1).min() < 0.01 for row in got)


def test_only_the_best_ranked_sentences_are_read_again_without_their_title() -> None:
    """An answer reads every sentence with its document's title, and only the BARE_TOP best
    ranked again alone (a correction of a few hundredths to the rank); a follow-up reads them
    all alone, since each is checked against what the last answer said."""
    from assistant.answering.relevance import BARE_TOP, Hints, Relevance
    from assistant.types import Passage

    model = Counting()
    relevance = Relevance(model.inner, lambda term: 1.0, "The archive does not say.", SentenceVectors(model, 0))
    text = " ".join(f"Sentence {n}: the ministry rejected the report on the remand centres as biased." for n in range(30))
    passages = [Passage(id="c1", doc_id="d1", path="a.md", title="Ministry statement", text=text)]
    scored = relevance.score("Why did the ministry reject the report?", passages)
    titled = [t for t in model.texts if t.startswith("Ministry statement: ")]
    alone = [t for t in model.texts if not t.startswith("Ministry statement: ")]
    assert len(scored.sentences) == len(titled) == 30 and len(alone) == BARE_TOP
    best = sorted(scored.sentences, key=lambda s: -s.rank)[:4]
    assert all(s.text in alone for s in best)  # the answer's sentences were all read alone
    model.texts.clear()
    relevance.score("And who responded to that?", passages,
                    Hints(avoid={"Sentence 0: the ministry rejected the report on the remand centres as biased."}))
    assert len([t for t in model.texts if not t.startswith("Ministry statement: ")]) == 30 + 1

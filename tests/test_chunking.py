from assistant.index.text import split_sentences
from assistant.index.tokens import count
from ingest.chunking import chunk_text, fit

TEXT = " ".join(f"Sentence number {i} says that the committee met on day {i} in the capital." for i in range(60))


def test_chunks_respect_the_token_budget_and_keep_every_sentence() -> None:
    chunks = chunk_text(TEXT, chunk_tokens=60, overlap=15)
    assert len(chunks) > 5
    assert all(count(c) <= 60 for c in chunks)
    for i in range(60):
        assert any(f"Sentence number {i} says" in c for c in chunks), i


def test_consecutive_chunks_overlap_by_whole_sentences() -> None:
    chunks = chunk_text(TEXT, chunk_tokens=60, overlap=20)
    for a, b in zip(chunks, chunks[1:]):
        last = split_sentences(a)[-1]
        assert b.startswith(last) or count(last) > 20


def test_a_sentence_longer_than_a_chunk_is_cut_into_windows() -> None:
    long = "word " * 500
    chunks = chunk_text(long, chunk_tokens=100, overlap=0)
    assert len(chunks) == 5
    assert all(count(c) <= 100 for c in chunks)


def test_paragraph_breaks_survive() -> None:
    chunks = chunk_text("First paragraph here.\n\nSecond paragraph there.", 100, 0)
    assert chunks == ["First paragraph here.\n\nSecond paragraph there."]


def test_abbreviations_do_not_end_sentences() -> None:
    assert split_sentences("Dr. Ines Valcourt met Mr. Brenn in the U.S. embassy. He left.") == [
        "Dr. Ines Valcourt met Mr. Brenn in the U.S. embassy.", "He left."]


def test_fit_splits_what_the_model_would_truncate() -> None:
    texts = ["a b c d e f g h i j " * 5, "short one."]
    out = fit(texts, "Title\n", lambda ts: [len(t.split()) for t in ts], limit=20)
    assert all(len(("Title\n" + t).split()) <= 20 for t in out)
    assert " ".join(out).split() == " ".join(texts).split()  # nothing lost, order kept

"""The embedder is shared by the parsing thread (token counts) and the encoding thread."""

import threading

from assistant.index.embedding import load_embedder


def test_counting_tokens_while_encoding_is_thread_safe() -> None:
    e = load_embedder("all-MiniLM-L6-v2")
    texts = [" ".join(["word"] * n) for n in range(5, 200, 7)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def count() -> None:
        try:
            while not stop.is_set():
                e.count_tokens(texts)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=count)
    t.start()
    try:
        for _ in range(15):
            assert e.encode(texts, batch_size=8).shape == (len(texts), e.dim)
    finally:
        stop.set()
        t.join()
    assert not errors
    assert e.count_tokens(["two words"]) == [4]  # [CLS] two words [SEP]


def test_a_query_vector_equals_the_batch_encoders_to_bf16_precision() -> None:
    """encode_query pads to a bucket of word pieces and calls the model directly: the padding
    must not change the vector, short or long (truncated at the model's limit) alike."""
    import numpy as np

    embedder = load_embedder("all-MiniLM-L6-v2", "auto")
    for query in ["Why?", "Why did Marvala reject the 2023 OHCHR report?",
                  "When did the Special Rapporteur visit the remand centres in Sennport " * 40]:
        fast = embedder.encode_query(query)
        assert fast.shape == (embedder.dim,) and abs(float(np.linalg.norm(fast)) - 1.0) < 1e-5
        assert float(fast @ embedder.encode([query])[0]) > 0.995


def tricky_texts() -> list[str]:
    """Real prose cut into chunks, and the characters where normalisation or whitespace could
    differ between Python and BERT."""
    from pathlib import Path

    prose = [p.read_text(encoding="utf-8") for p in sorted(Path("examples/archive").rglob("*.md"))]
    texts = [t[i:i + 900] for t in prose for i in range(0, len(t), 900)]
    texts += ["Ｈｅｌｌｏ 世界 naïve café — “quoted” ‘x’ a\u00a0b c\u2009d e\u200bf \t\n tab",
              "x" * 300 + " longer than BERT's 100-character word limit", "", "   ",
              "İstanbul ǅ ﬁne Straße", "emoji 😀👍🏽 done.", "a\x00b \ufffd c \ufeffd",
              "\u0085nel\u2028ls\u3000ideo", "every\x1cthing: a separator Python splits at and BERT deletes",
              "U.S.-led talks (2023): 3.5% up; e-mail foo@bar.com, #tags & $5,000!"]
    return texts


def test_word_by_word_token_counts_equal_the_tokenizers_on_whole_texts() -> None:
    """Ingestion counts word pieces word by word with a cache (assistant.index.embedding.
    WordPieceCounter); the counts must equal tokenising each text whole, on real prose and on
    the characters where normalisation or whitespace could differ."""
    e = load_embedder("all-MiniLM-L6-v2")
    counter = e._counter
    assert counter.word_wise
    texts = tricky_texts()
    assert len(texts) > 20
    hf = e._model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    expected = [len(ids) for ids in hf]
    assert counter._whole(texts) == expected
    assert counter(texts) == expected
    assert counter(texts) == expected  # and again, from the cache
    assert e.count_tokens(["two words"]) == [4]


def test_ingestion_counts_word_pieces_without_loading_the_model() -> None:
    """The parsing side of ingestion counts with the tokenizer alone (load_counter): the same
    counts and limit as the loaded model, in a process that never imports torch."""
    import subprocess
    import sys

    from assistant.index.embedding import LazyEmbedder

    texts = tricky_texts()
    e = load_embedder("all-MiniLM-L6-v2")
    lazy = LazyEmbedder("all-MiniLM-L6-v2", "auto")
    assert lazy.count_tokens(texts) == e.count_tokens(texts) and lazy.max_tokens == e.max_tokens == 256
    code = ("import sys; from assistant.index.embedding import LazyEmbedder as L; e = L('all-MiniLM-L6-v2', 'auto'); "
            "print(e.count_tokens(['two words', 'Straße naïve']), e.max_tokens, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [*str(e.count_tokens(["two words", "Straße naïve"])).split(), "256", "False"]


def test_the_in_process_encoder_embeds_as_the_model_does() -> None:
    """Ingestion's writer sees both encoders through one interface (ingest.encoder.Encoder): the
    in-process one embeds each batch when it is submitted, with the model's own vectors."""
    import numpy as np

    from assistant.index.embedding import LazyEmbedder
    from ingest.encoder import InProcessEncoder

    texts = ["The harbour report was filed.", "Ferry workers read it."]
    encoder = InProcessEncoder(LazyEmbedder("all-MiniLM-L6-v2", "auto"))
    future = encoder.submit(texts, 8)
    assert future.done() and encoder.processes == 0
    assert np.array_equal(future.result(), load_embedder("all-MiniLM-L6-v2").encode(texts, 8))
    encoder.close()

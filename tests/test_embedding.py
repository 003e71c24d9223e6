"""The embedder is shared by the parsing thread (token counts) and the encoding thread."""

import threading

from assistant.embedding import load_embedder


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

"""Neighbouring-chunk windows: a retrieved chunk comes with the text around it, from the same
document and page, with the sentences that overlapping chunks share shown once."""

from pathlib import Path

from assistant import Assistant
from assistant.answering.retrieve import join_chunks
from assistant.settings import Settings
from ingest import ingest

from pdfgen import write_pdf

TREES = ["alder", "birch", "cedar", "dogwood", "elm", "fir", "ginkgo", "hazel", "ironwood", "juniper", "larch", "maple"]
SENTENCES = [f"The harbour board then met in the {t} room to discuss the {t} contract." for t in TREES]


def test_join_chunks_drops_the_shared_sentences() -> None:
    assert join_chunks(["One two. Three four.", "Three four. Five six."]) == "One two. Three four. Five six."
    assert join_chunks(["One two.", "Three four."]) == "One two. Three four."
    assert join_chunks(["x Ab", "b c"]) == "x Ab b c"  # only whole words can overlap


def test_a_window_holds_the_neighbouring_text_once(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "minutes.md").write_text("---\ntitle: Harbour board minutes\n---\n\n" + " ".join(SENTENCES))
    (docs / "other.md").write_text("---\ntitle: Weather\n---\n\nIt rained on the hills all week long.")
    settings = Settings(store=tmp_path / "store", chunk_tokens=40, chunk_overlap=15)
    assert ingest([docs], settings).ok
    a = Assistant(settings=settings)
    [hit] = a.retriever.search("fir contract", k=1, mode="bm25")
    [wide] = a.retriever.search("fir contract", k=1, mode="bm25", window=1)
    assert "fir room" in hit.text and len(wide.text) > len(hit.text) and hit.text in wide.text
    assert wide.id == hit.id and "rained" not in wide.text
    sentences = [s for s in SENTENCES if s in wide.text]
    assert all(wide.text.count(s) == 1 for s in sentences)  # overlapping sentences once
    assert " ".join(sentences) in wide.text  # contiguous, in document order
    # Passages never repeat a chunk: the next hit's window leaves out what was shown.
    passages = a.retriever.search("harbour board", k=5, mode="bm25", window=1)
    assert len(passages) >= 2
    shown = [s for p in passages for s in SENTENCES if s in p.text]
    assert len(shown) <= len(SENTENCES) + 2 * len(passages)  # at most the carried overlap twice


def test_windows_stay_on_their_pdf_page(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "r.pdf", [" ".join(SENTENCES[:6]), " ".join(SENTENCES[6:])])
    settings = Settings(store=tmp_path / "store", chunk_tokens=40, chunk_overlap=0)
    assert ingest([docs], settings).ok
    a = Assistant(settings=settings)
    [p] = a.retriever.search("fir contract", k=1, mode="bm25", window=3)
    assert p.page == 1 and "fir room" in p.text and "ginkgo" not in p.text

"""The chat's HTML and Markdown, as plain functions: escaping, markers, flags, highlights, export."""

import re

from assistant.app.ui_render import (
    Turn,
    answer_html,
    export_markdown,
    files_html,
    filters_note,
    highlight,
    safe_url,
    sources_html,
    status_html,
)
from assistant.types import Answer, ArchiveFile, ArchiveStatus, Citation, Claim

HOSTILE = Citation(n=1, doc_id="d", path="/arch/a.html", title="<script>alert(1)</script>",
                   text='Intro. <img src=x onerror="alert(2)"> The port closed in May. [x](javascript:alert(4))',
                   url="javascript:alert(3)", source="<b>src</b>", date="2023-05-01",
                   supporting=['<img src=x onerror="alert(2)"> The port closed in May.'])


def test_document_strings_are_escaped_and_only_http_urls_become_links() -> None:
    turns = [Turn("q", Answer(question="q", text="The port closed <i>x</i>. [1]", citations=[HOSTILE]))]
    for html in (sources_html(turns, 0, opened=1), answer_html(turns[0].answer, 0)):
        assert "<script" not in html and "<img" not in html and "<i>x" not in html and "<b>src" not in html
        assert 'href="javascript' not in html
    opened = sources_html(turns, 0, opened=1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in opened and "&lt;img src=x" in opened
    # A closed card's excerpt opens with the evidence, not with the passage's first words.
    closed = sources_html(turns, 0)
    assert '<div class="source-snippet">…&lt;img src=x onerror=&quot;alert(2)&quot;&gt; The port' in closed
    # The javascript: URL is not a link; the file is linked through the server's file route instead.
    assert 'href="/api/file?path=%2Farch%2Fa.html"' in opened
    assert safe_url("https://example.org/a b") is None and safe_url("HTTPS://example.org/r") == "HTTPS://example.org/r"
    assert safe_url("data:text/html,hi") is None and safe_url(" javascript:alert(1)") is None


def test_markers_open_their_passage_and_unknown_ones_are_marked() -> None:
    c2 = Citation(n=2, doc_id="e", path="/e.md", title="Second", text="Other text.")
    answer = Answer(question="q", text="First fact. [1] Second fact. [2] Third. [1, 2] Odd. [7]",
                    citations=[HOSTILE, c2])
    html = answer_html(answer, turn=3)
    assert re.findall(r'href="#cite-3-(\d)"', html) == ["1", "2", "1", "2"]
    assert '<span class="cite-missing" title="No such source">[7]</span>' in html
    assert "First fact." in html and "Odd." in html


def test_unsupported_claims_are_flagged_where_they_are() -> None:
    answer = Answer(question="q", text="The port closed in May. [1] It reopened in 2020. [1]",
                    citations=[HOSTILE],
                    claims=[Claim("The port closed in May.", [1], 0.9, True),
                            Claim("It reopened in 2020.", [1], 0.1, False),
                            Claim("A claim the text no longer holds.", [1], 0.0, False)])
    html = answer_html(answer, 0)
    assert '<span class="unsupported" title="Not supported by the passage it cites">It reopened in 2020.</span>' \
        in html
    assert "The port closed in May. " in html and 'unsupported" title="Not supported by the passage it cites">' \
        'The port' not in html
    assert "2 of 3 sentences are not supported" in html
    assert '· <span class="unsupported">A claim the text no longer holds.</span>' in html
    assert answer_html(Answer("q", "No.", refused=True), 0) == '<div class="answer refused">No.</div>'


def test_supporting_sentences_are_highlighted_across_markup_and_line_breaks() -> None:
    text = "Header line\n\nThe **Ministry** rejects the report\nin its entirety. Then other things."
    out = highlight(text, ["The Ministry rejects the report in its entirety."])
    assert out == ('Header line\n\n<mark class="support">The **Ministry** rejects the report\nin its entirety.'
                   '</mark> Then other things.')
    assert highlight("a <b> c", ["<b> c"]) == 'a <mark class="support">&lt;b&gt; c</mark>'
    assert highlight("nothing matches", ["elsewhere"]) == "nothing matches"


def test_sources_panel_shows_one_answer_and_opens_one_passage() -> None:
    c2 = Citation(n=2, doc_id="e", path="/e.md", title="Second", text="Other text.", url="https://example.org/e",
                  page=4, supporting=["Other text."])
    turns = [Turn("first?", Answer("first?", "A. [1]", citations=[HOSTILE])),
             Turn("second?", Answer("second?", "B. [1] C. [2]", citations=[HOSTILE, c2]))]
    latest = sources_html(turns)
    assert "Sources of answer 2 of 2" in latest and "second?" in latest and "source open" not in latest
    opened = sources_html(turns, 1, opened=2)
    assert opened.count("source open") == 1 and '<mark class="support">Other text.</mark>' in opened
    assert 'href="https://example.org/e" target="_blank" rel="noopener noreferrer nofollow"' in opened
    assert "p. 4" in opened
    assert "Sources of answer 1 of 2" in sources_html(turns, 0)
    assert "does not hold the answer" in sources_html([Turn("x", Answer("x", "No.", refused=True))])


def test_a_refusal_shows_the_closest_passages_as_such() -> None:
    near = Citation(n=1, doc_id="n", path="/n.md", title="Nearby <b>", text="Close, but no answer.",
                    supporting=["Close, but no answer."])
    refusal = Answer("Who?", "The archive does not hold the answer.", refused=True, related=[near])
    assert "closest passages are under Sources" in answer_html(refusal, 0)
    panel = sources_html([Turn("Who?", refusal)])
    assert "Closest passages to question 1" in panel and "They do not answer it" in panel
    assert "Sources of answer" not in panel and "Nearby &lt;b&gt;" in panel
    opened = sources_html([Turn("Who?", refusal)], 0, opened=1)
    assert opened.count("source open") == 1 and "the sentence closest to the question" in opened
    assert "rests on" not in opened
    md = export_markdown([Turn("Who?", refusal)])
    assert "Closest passages (they do not answer the question):\n\n- **Nearby &lt;b&gt;** — `/n.md`" in md


def test_export_has_questions_answers_and_citations() -> None:
    c = Citation(n=1, doc_id="d", path="/arch/r.pdf", title="Report", text="Line one.\nLine two.", date="2023-08-14",
                 source="OHCHR", page=3, supporting=["Line one."])
    turns = [Turn("Why?", Answer("Why?", "Because. [1]", citations=[c],
                                 claims=[Claim("Because.", [1], 0.2, False)])),
             Turn("Empty", error="The question is empty.")]
    md = export_markdown(turns, "Chat")
    assert md.startswith("# Chat\n")
    assert "## 1. Why?\n\nBecause. [1]\n" in md
    assert "1. **Report** — 2023-08-14 · OHCHR · p. 3 — `/arch/r.pdf`" in md
    assert "   > Line one.\n   > Line two." in md and "Supporting: “Line one.”" in md
    assert "**Not supported by the passages cited:** Because." in md
    assert "## 2. Empty\n\n*Error: The question is empty.*" in md


def test_filters_are_shown_under_the_answer() -> None:
    note = filters_note("2023", None, ["OHCHR <x>"], ["pdf"])
    assert note == "since 2023; sources: OHCHR <x>; types: pdf" and filters_note() == ""
    assert "Filtered: since 2023; sources: OHCHR &lt;x&gt;; types: pdf" in answer_html(Answer("q", "A. [1]", [HOSTILE]), 0, note)
    assert "Filtered: since 2023" in answer_html(Answer("q", "No.", refused=True), 0, note)


def test_the_archive_list_shows_the_latest_files_first_escaped_and_cut() -> None:
    def f(path: str, when: str) -> ArchiveFile:
        return ArchiveFile(path=path, kind="md", documents=1, chunks=3, bytes=10, ingested=when)

    files = [f("/a/old.md", "2024-01-01 10:00:00"), f("/a/<img src=x onerror=alert(1)>.md", "2025-05-05 09:00:00"),
             f("/b/new.md", "2025-05-05 09:00:00")]
    out = files_html(files)
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;.md" in out
    names = re.findall(r'<tr><td title="[^"]*">([^<]*)</td>', out)
    assert names == ["&lt;img src=x onerror=alert(1)&gt;.md", "new.md", "old.md"]  # latest first, then by path
    assert 'title="/b/new.md"' in out and "<td>2025-05-05</td>" in out and "3 files" in out
    cut = files_html(files * 3, limit=4)
    assert cut.count("<tr><td") == 4 and "and 5 more" in cut
    assert "Nothing ingested yet" in files_html([])


def test_the_status_line_says_when_the_archive_is_being_written() -> None:
    def status(writing: dict | None) -> ArchiveStatus:
        return ArchiveStatus(store="/s", files=2, documents=3, chunks=9, last_ingested=None,
                             embed_model="m", llm="extractive", writing=writing)

    quiet = status_html(status(None))
    assert "3 documents" in quiet and "being updated" not in quiet
    busy = status_html(status({"purpose": "<b>an ingestion</b>", "pid": 7}))
    assert "being updated (&lt;b&gt;an ingestion&lt;/b&gt;)" in busy

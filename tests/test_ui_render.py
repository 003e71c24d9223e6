"""The chat's HTML and Markdown, as plain functions: escaping, markers, flags, highlights,
rendered passages, words for staff, example questions, export."""

import re
from pathlib import Path

from assistant.app import ui_render
from assistant.app.ui_archive import files_html, ingest_html, status_html
from assistant.app.ui_passages import passage_html, snippet_html
from assistant.app.ui_render import Turn, answer_html, card_html, export_markdown, filters_note, safe_url, sources_html
from assistant.app.ui_words import MAX_EXAMPLES, answered_by, example_questions, kind_choices, kind_word
from assistant.settings import Settings
from assistant.types import Answer, ArchiveFile, ArchiveStatus, Citation, Claim

from conftest import ROOT

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
    assert ('<div class="source-snippet">… <mark class="support">&lt;img src=x onerror=&quot;alert(2)&quot;&gt; '
            "The port closed in May.</mark> …</div>") in closed
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
    plain = passage_html(text, ["The Ministry rejects the report in its entirety."], markdown=False)
    assert plain == ('Header line\n\n<mark class="support">The **Ministry** rejects the report\nin its entirety.'
                     '</mark> Then other things.')
    # Rendered, the sentence is marked piece by piece around the bold, and the HTML stays nested.
    md = passage_html(text, ["The Ministry rejects the report in its entirety."], markdown=True)
    assert md == ('<p>Header line</p>\n<p><mark class="support">The </mark><strong><mark class="support">Ministry'
                  '</mark></strong><mark class="support"> rejects the report\nin its entirety.</mark> Then other things.</p>')
    assert passage_html("a <b> c", ["<b> c"], False) == 'a <mark class="support">&lt;b&gt; c</mark>'
    assert passage_html("nothing matches", ["elsewhere"], True) == "<p>nothing matches</p>"


def test_sources_panel_shows_one_answer_and_opens_one_passage() -> None:
    c2 = Citation(n=2, doc_id="e", path="/e.md", title="Second", text="Other text.", url="https://example.org/e",
                  page=4, supporting=["Other text."])
    turns = [Turn("first?", Answer("first?", "A. [1]", citations=[HOSTILE])),
             Turn("second?", Answer("second?", "B. [1] C. [2]", citations=[HOSTILE, c2]))]
    latest = sources_html(turns)
    assert "Sources of answer 2 of 2" in latest and "second?" in latest and "source open" not in latest
    opened = sources_html(turns, 1, opened=2)
    assert opened.count("source open") == 1 and '<p><mark class="support">Other text.</mark></p>' in opened
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
    assert note == "since 2023; sources: OHCHR <x>; types: PDF" and filters_note() == ""
    assert "Filtered: since 2023; sources: OHCHR &lt;x&gt;; types: PDF" in answer_html(Answer("q", "A. [1]", [HOSTILE]), 0, note)
    assert "Filtered: since 2023" in answer_html(Answer("q", "No.", refused=True), 0, note)


def test_the_archive_list_shows_the_latest_files_first_escaped_and_cut() -> None:
    def f(path: str, when: str) -> ArchiveFile:
        return ArchiveFile(path=path, kind="md", documents=1, chunks=3, bytes=10, ingested=when)

    files = [f("/a/old.md", "2024-01-01 10:00:00"), f("/a/<img src=x onerror=alert(1)>.md", "2025-05-05 09:00:00"),
             f("/b/new.md", "2025-05-05 09:00:00")]
    out = files_html(files)
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;.md" in out
    names = re.findall(r'<tr><td title="[^"]*"><span class="file-name">([^<]*)</span>', out)
    assert names == ["&lt;img src=x onerror=alert(1)&gt;.md", "new.md", "old.md"]  # latest first, then by path
    assert 'title="/b/new.md"' in out and "<td>2025-05-05</td>" in out and "3 files" in out
    assert '<span class="file-meta">Markdown · 3 passages</span>' in out and "chunk" not in out and ">md<" not in out
    records = files_html([ArchiveFile(path="/a/b.jsonl", kind="jsonl", documents=5, chunks=5, bytes=9, ingested=None)])
    assert "JSON records (5) · 5 passages" in records
    cut = files_html(files * 3, limit=4)
    assert cut.count("<tr><td") == 4 and "and 5 more" in cut
    assert "Nothing in the archive yet" in files_html([])


def test_the_status_line_says_when_the_archive_is_being_written() -> None:
    def status(writing: dict | None) -> ArchiveStatus:
        return ArchiveStatus(store="/s", files=2, documents=3, chunks=9, last_ingested=None,
                             embed_model="m", llm="extractive", writing=writing)

    quiet = status_html(status(None))
    assert "3 documents · 9 passages" in quiet and "being updated" not in quiet and "chunk" not in quiet
    busy = status_html(status({"purpose": "<b>an ingestion</b>", "pid": 7}))
    assert "being updated (&lt;b&gt;an ingestion&lt;/b&gt;)" in busy


# -- rendered passages (issue 20) ---------------------------------------------------------------
MD_PASSAGE = """# Statement on the *report*

Intro with **bold** and a [link](https://example.org/s) and [a trap](javascript:alert(5)).

- first point
- second point

<script>alert(6)</script> <img src=x onerror="alert(7)"> ![chart](https://tracker.example/p.png)
[inside](/api/file?path=%2Fetc%2Fpasswd) The port closed in May. It reopened in June."""


def test_markdown_passages_are_rendered_safely() -> None:
    c = Citation(n=1, doc_id="m", path="/arch/statement.md", title="S", text=MD_PASSAGE,
                 supporting=["The port closed in May."])
    opened = sources_html([Turn("q", Answer("q", "Closed. [1]", citations=[c]))], 0, opened=1)
    assert '<blockquote class="passage md">' in opened
    assert "<h1>Statement on the <em>report</em></h1>" in opened and "<strong>bold</strong>" in opened
    assert "<li>first point</li>" in opened and "# Statement" not in opened and "**" not in opened
    assert '<a href="https://example.org/s" target="_blank" rel="noopener noreferrer nofollow">link</a>' in opened
    # Raw HTML is text; javascript: and relative links keep their words, not their target; no image loads.
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in opened and '&lt;img src=x onerror=&quot;alert(7)&quot;&gt;' in opened
    assert "<script" not in opened and "<img" not in opened and "javascript" not in opened.lower()
    assert "a trap" in opened and 'href="/api/file?path=%2Fetc' not in opened and "inside" in opened
    assert '<span class="md-image">[image: chart]</span>' in opened and "tracker.example" not in opened
    assert '<mark class="support">The port closed in May.</mark> It reopened' in opened
    # A closed card reads as text: no Markdown marks, the evidence marked.
    closed = sources_html([Turn("q", Answer("q", "Closed. [1]", citations=[c]))], 0)
    snippet = re.search(r'<div class="source-snippet">(.*?)</div>', closed).group(1)
    assert snippet == '… <mark class="support">The port closed in May.</mark> …'
    bare = snippet_html(MD_PASSAGE, [], True, 60)
    assert bare == "Statement on the report Intro with bold and a link and a…" and "#" not in bare


def test_highlights_survive_headings_lists_and_emphasis_across_lines() -> None:
    text = "## Findings ##\n\n* The Office **found** abuses.\n* It *asked* for access.\n\nTitle\n=====\n\nEnd."
    out = passage_html(text, ["Findings", "The Office found abuses.", "It asked for access.", "Title"], True)
    assert out.startswith('<h2><mark class="support">Findings</mark></h2>')
    assert ('<li><mark class="support">The Office </mark><strong><mark class="support">found</mark></strong>'
            '<mark class="support"> abuses.</mark></li>') in out
    assert ('<li><mark class="support">It </mark><em><mark class="support">asked</mark></em>'
            '<mark class="support"> for access.</mark></li>') in out
    assert '<h1><mark class="support">Title</mark></h1>' in out and "<p>End.</p>" in out
    # A sentence ending inside a link's title: marked up to the link, the title left as it was.
    linked = 'See [the report](https://example.org/r "Annual report") now. Then more.'
    ends_in_title = ['See [the report](https://example.org/r "Annual', "Then more."]
    assert passage_html(linked, ends_in_title, True) == (
        '<p><mark class="support">See </mark><a href="https://example.org/r" target="_blank" '
        'rel="noopener noreferrer nofollow"><mark class="support">the report</mark></a> now. '
        '<mark class="support">Then more.</mark></p>')
    assert snippet_html(linked, ["See [the report](https://example.org/r \"Annual"], True, 100) == \
        '<mark class="support">See the report</mark> …'
    # A passage holding the sentinel characters themselves still renders, unmarked there.
    assert "\U0001d306" not in passage_html("odd \U0001d306 text. Next.", ["Next."], True)


def test_every_supporting_sentence_of_a_source_is_shown() -> None:
    text = ("The court sat in March. Witnesses were heard for a week. " * 4 + "The verdict came in May. "
            + "Appeals followed. " * 6 + "The sentence was reduced in 2024.")
    supporting = ["The verdict came in May.", "The court sat in March.", "The sentence was reduced in 2024."]
    c = Citation(n=1, doc_id="a", path="/a.md", title="Trial", text=text, supporting=supporting)
    turns = [Turn("q", Answer("q", "It was reduced. [1]", citations=[c]))]
    closed = sources_html(turns, 0)
    marked = re.findall(r'<mark class="support">([^<]*)</mark>', closed)
    assert marked == ["The court sat in March.", "The verdict came in May.", "The sentence was reduced in 2024."]
    assert re.search(r'source-snippet"><mark[^>]*>The court sat in March\.</mark> … <mark', closed)
    opened = sources_html(turns, 0, opened=1)
    assert re.findall(r'<mark class="support">([^<]*)</mark>', opened) == marked
    assert "Highlighted: the 3 sentences the answer rests on." in opened
    long = "Intro. A " + "very " * 60 + "long sentence. After."
    assert snippet_html(long, ["A " + "very " * 60 + "long sentence."], False, 60) == \
        "… <mark class=\"support\">A" + " very" * 11 + "…</mark>"  # one "…" where it is cut


# -- words for staff -------------------------------------------------------------------------------
def test_a_cited_pdf_page_is_shown_drawn_with_its_evidence_marked() -> None:
    c = Citation(n=2, doc_id="d", path='/arch/a "b"&<c>.pdf', title="Report", page=3,
                 text="Intro. The port closed\nin May. After.", supporting=["The port closed\nin May."])
    turns = [Turn("q", Answer("q", "Closed. [2]", citations=[c]))]
    opened = sources_html(turns, 0, opened=2)
    src = "/api/page?path=%2Farch%2Fa%20%22b%22%26%3Cc%3E.pdf&amp;page=3&amp;mark=The%20port%20closed%20in%20May."
    assert f'<div class="page-view"><img class="page-image" src="{src}" alt="Page 3 of a &quot;b&quot;&amp;&lt;c&gt;.pdf' \
        in opened
    assert ('Page 3 of <span class="page-file" title="/arch/a &quot;b&quot;&amp;&lt;c&gt;.pdf">a &quot;b&quot;&amp;'
            '&lt;c&gt;.pdf</span> · <a class="source-file" href="/api/file?path=%2Farch%2Fa%20%22b%22%26%3Cc%3E.pdf'
            '#page=3" target="_blank" rel="noopener noreferrer">open the whole file</a>') in opened
    # The passage stays below the page, its evidence marked as for any source.
    assert '<blockquote class="passage plain under-page">Intro. <mark class="support">The port closed' in opened
    assert "<img" not in sources_html(turns, 0)  # a closed card: the excerpt only
    assert "<img" not in card_html(c, 0, True)  # unless asked (a shared conversation's page has no script)
    for other in (Citation(n=1, doc_id="e", path="/arch/e.pdf", title="E", text="x"),  # no page known
                  Citation(n=1, doc_id="f", path="/arch/f.md", title="F", text="x", page=2)):
        assert ui_render.page_href(other) is None and "<img" not in card_html(other, 0, True, pages=True)
    # The URL carries the evidence up to a length proxies accept; the rest is left unmarked.
    many = Citation(n=1, doc_id="g", path="/g.pdf", title="G", text="x", page=1,
                    supporting=[f"Sentence {i} " + "word " * 80 for i in range(20)])
    href = ui_render.page_href(many) or ""
    assert 5 <= href.count("&mark=") < 20 and len(href) < 3 * ui_render.PAGE_MARK_CHARS


def test_internals_are_named_in_words_staff_use() -> None:
    assert [kind_word(k) for k in ("md", "txt", "html", "pdf", "docx", "eml", "jsonl", "xyz")] == \
        ["Markdown", "Text", "Web page", "PDF", "Word", "E-mail", "JSON records", "XYZ"]
    assert kind_choices(["pdf", "md", "jsonl"]) == [("JSON records", "jsonl"), ("Markdown", "md"), ("PDF", "pdf")]
    quoted = answer_html(Answer("q", "A. [1]", [HOSTILE], backend="extractive"), 0)
    assert "Quoted from the sources" in quoted and "extractive" not in quoted and "Answered by" not in quoted
    written = answer_html(Answer("q", "A. [1]", [HOSTILE], backend="local"), 0, model="SmolLM2-135M-Instruct")
    assert "Written by SmolLM2-135M-Instruct from the sources" in written and "local" not in written
    assert answered_by("openai") == "Written by an AI model from the sources"
    summary = ingest_html([], "1 of 1 file(s) in the archive; 3 chunks embedded, 49 in the store (0.8 s).")
    assert "3 passages indexed, 49 in the archive" in summary and "chunk" not in summary
    assert "; 1 passage indexed, 21 in" in ingest_html([], "2 of 2 file(s) in the archive; 1 chunks embedded, 21 in the store.")


# -- dates after markers ---------------------------------------------------------------------------
def test_markers_followed_by_a_date_stay_links_and_the_date_reads_as_such() -> None:
    c2 = Citation(n=2, doc_id="e", path="/e.md", title="Second", text="Other text.")
    answer = Answer("q", "The minister called it biased. [1] (3 Aug 2023) Groups disagreed. [1, 2] (16 Aug 2023)",
                    citations=[HOSTILE, c2], claims=[Claim("The minister called it biased.", [1], 0.9, True),
                                                     Claim("Groups disagreed.", [1, 2], 0.1, False)])
    html = answer_html(answer, 0)
    assert re.findall(r'href="#cite-0-(\d)"', html) == ["1", "1", "2"]
    assert '[1]</a> <span class="cite-date">(3 Aug 2023)</span> <span class="unsupported"' in html
    assert '[2]</a> <span class="cite-date">(16 Aug 2023)</span></div>' in html
    assert '<span class="unsupported" title="Not supported by the passage it cites">Groups disagreed.</span>' in html
    # Brackets that are no date stay text.
    assert '</a> (see below)' in answer_html(Answer("q", "A. [1] (see below)", [HOSTILE]), 0)


# -- example questions -----------------------------------------------------------------------------
def test_example_questions_come_from_the_archive_not_the_code(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    assert example_questions(Settings(store=store)) == []  # no file: no Marvala example
    lines = ["# comment", "", "  Why did the port close?  ", "x" * 2001, "bad \x07 bell?", "Why did the port close?"]
    lines += [f"Question {i}?" for i in range(12)]
    (store / "example-questions.txt").write_text("\n".join(lines), encoding="utf-8")
    found = example_questions(Settings(store=store))
    assert found[0] == "Why did the port close?" and len(found) == MAX_EXAMPLES == 8
    assert found[1:] == [f"Question {i}?" for i in range(7)]
    # A setting names another file; a Chroma server's store has no folder, so only the setting counts.
    other = tmp_path / "mine.txt"
    other.write_text("Who chairs the committee?\n", encoding="utf-8")
    assert example_questions(Settings(store=store, example_questions=other)) == ["Who chairs the committee?"]
    assert example_questions(Settings(store=store, chroma_url="http://127.0.0.1:8000")) == []
    assert example_questions(Settings(store=store, example_questions=tmp_path / "missing.txt")) == []
    # The sample archive's file (copied beside .store/sample by `make ingest`) holds today's questions.
    sample = example_questions(Settings(store=store, example_questions=ROOT / "examples" / "example-questions.txt"))
    assert sample[:2] == ["Why did Marvala reject the 2023 OHCHR report?",
                          "When did the UN Special Rapporteur visit Sennport?"]
    assert "cp examples/example-questions.txt $(STORE)/example-questions.txt" in (ROOT / "Makefile").read_text()

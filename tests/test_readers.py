from pathlib import Path

import pytest

from assistant.errors import IngestError
from assistant.index.dates import parse_date
from ingest.readers import reader_for

from conftest import SAMPLE
from pdfgen import write_pdf


def read(path: Path):
    reader = reader_for(path)
    assert reader is not None
    return reader(path, path.read_bytes())


def test_markdown_front_matter_gives_title_date_source_url(tmp_path: Path) -> None:
    p = tmp_path / "a.md"
    p.write_text('---\ntitle: "Report A"\ndate: 2023-08-14\npublisher: "Ledger"\n'
                 "url: https://example.org/a\n---\n\nBody text here.\n")
    [doc] = read(p)
    assert (doc.title, doc.date, doc.source, doc.url) == ("Report A", "2023-08-14", "Ledger",
                                                          "https://example.org/a")
    assert doc.text == "Body text here."
    assert doc.pages[0][0] is None


def test_text_without_front_matter_takes_its_first_line_as_title(tmp_path: Path) -> None:
    p = tmp_path / "note.txt"
    p.write_text("A plain note\n\nSome words.")
    [doc] = read(p)
    assert doc.title == "A plain note"


def test_html_keeps_the_article_and_drops_navigation_and_footer() -> None:
    path = next(SAMPLE.rglob("*.html"))
    [doc] = read(path)
    raw = path.read_text()
    assert doc.url and doc.url.startswith("https://example.org")
    assert doc.date and parse_date(doc.date)
    assert doc.title
    assert "<" not in doc.text
    footer = raw[raw.index("<footer"):raw.index("</footer>")]
    nav = raw[raw.index("<nav"):raw.index("</nav>")]
    # Words that only the boilerplate has must not reach the index.
    from assistant.index.keyword import terms

    only_boilerplate = set(terms(footer + nav)) - set(terms(raw[raw.index("<article"):raw.index("</article>")]))
    assert only_boilerplate
    assert not only_boilerplate & set(terms(doc.text))


def test_pdf_pages_are_numbered_from_one(tmp_path: Path) -> None:
    p = write_pdf(tmp_path / "r.pdf", ["Alpha page.", "", "Gamma page."], title="Three pages")
    [doc] = read(p)
    assert doc.title == "Three pages"
    assert doc.pages == [(1, "Alpha page."), (3, "Gamma page.")]  # the empty page is skipped


def test_jsonl_records_become_documents(tmp_path: Path) -> None:
    p = tmp_path / "feed.jsonl"
    p.write_text('{"id": "r1", "title": "One", "text": "First.", "date": "2023-01-02", "source": "S"}\n\n'
                 '{"id": "r2", "title": "Two", "text": "Second.", "url": "https://example.org/2"}\n')
    docs = read(p)
    assert [(d.doc_id, d.title, d.text) for d in docs] == [("r1", "One", "First."), ("r2", "Two", "Second.")]
    assert docs[0].date == "2023-01-02" and docs[1].url == "https://example.org/2"


def test_docx(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Word report"
    d.add_paragraph("The committee met in March.")
    d.save(tmp_path / "w.docx")
    [doc] = read(tmp_path / "w.docx")
    assert doc.title == "Word report" and "committee met" in doc.text


@pytest.mark.parametrize("name,data,reason", [
    ("empty.md", b"", "empty file"),
    ("blank.txt", b"  \n\n ", "empty file"),
    ("binary.txt", b"\x00\x01\x02garbage" * 50, "binary"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ("fake.pdf", b"hello, not a pdf at all", "not a PDF"),
    ("bad.jsonl", b'{"id": "a", "text": "ok"}\n{not json\n', "line 2"),
    ("notext.jsonl", b'{"id": "a"}\n', "no `text`"),
    ("front-only.md", b"---\ntitle: x\n---\n", "no text"),
])
def test_bad_files_give_a_clear_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(IngestError, match=reason):
        read(p)


def test_windows_1252_text_is_read(tmp_path: Path) -> None:
    p = tmp_path / "old.txt"
    p.write_bytes("Caf\xe9 report \x96 r\xe9sum\xe9 of the meeting.".encode("latin-1"))
    [doc] = read(p)
    assert "Café" in doc.text


@pytest.mark.parametrize("raw,iso,num", [
    ("2023-08-14", "2023-08-14", 20230814),
    ("2023-08 (after the 1 August 2023 meeting)", "2023-08", 20230800),
    ("c. 2019 (undated)", "2019", 20190000),
    ("September 30, 2020", "2020-09-30", 20200930),
    ("2024-02-03T10:00:00Z", "2024-02-03", 20240203),
])
def test_dates_are_normalised(raw: str, iso: str, num: int) -> None:
    assert parse_date(raw) == (iso, num)


def test_unknown_types_have_no_reader(tmp_path: Path) -> None:
    assert reader_for(tmp_path / "x.xyz") is None


def test_email(tmp_path: Path) -> None:
    p = tmp_path / "m.eml"
    p.write_text("From: Press Office <press@example.org>\nSubject: Statement on the visit\n"
                 "Date: Tue, 08 Mar 2022 09:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n"
                 "The ministry welcomes the Special Rapporteur.\n")
    [doc] = read(p)
    assert (doc.title, doc.date) == ("Statement on the visit", "2022-03-08")
    assert "press@example.org" in (doc.source or "") and "welcomes" in doc.text


@pytest.mark.parametrize("meta, title", [
    ("0001562762-21-000023", "CORNING 2020 10K"),  # an accession number
    ("Document", "CORNING 2020 10K"),
    ("Microsoft Word - F20_10K_VFinal.docx", "CORNING 2020 10K"),
    ("Microsoft Word - Annual Report 2020.docx", "Annual Report 2020"),
    ("", "CORNING 2020 10K"),
    ("10-K - 02/07/2019 - 3M Company", "CORNING 2020 10K"),  # one word of letters: a code
    ("Form 10-K for Corning Inc filed 02/12/2021", "Form 10-K for Corning Inc filed 02/12/2021"),
])
def test_a_pdf_title_that_is_not_one_gives_way_to_the_file_name(tmp_path: Path, meta: str, title: str) -> None:
    from ingest.readers.pdf import read_pdf

    p = write_pdf(tmp_path / "CORNING_2020_10K.pdf", ["Net sales rose."], title=meta)
    [doc] = read_pdf(p, p.read_bytes())
    assert doc.title == title

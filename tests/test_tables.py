"""Tables keep their structure: each row with its label and column headers, in every reader, and
chunks that never end inside a row and repeat the header line when a table goes on."""

from __future__ import annotations

from pathlib import Path

from assistant.index.tokens import count
from ingest.chunking import chunk_text, fit
from ingest.document import Document
from ingest.readers import reader_for
from ingest.tables import Table, TableSpan, from_grid, join_blocks

from pdfgen import assemble

ROWS = [f"Item {i} | 2023: {1000 + i:,} | 2022: {900 + i:,}" for i in range(60)]


def read(path: Path) -> list[Document]:
    reader = reader_for(path)
    assert reader is not None
    return reader(path, path.read_bytes())


def test_a_table_is_written_as_rows_with_their_headers() -> None:
    table = from_grid([["(in millions)", "2023", "2022"], ["Revenues", "51,217", "46,710"], ["Costs", "", "1"]])
    text, [span] = join_blocks(["Income.", table, "After."])
    assert text == ("Income.\n\n(in millions) | 2023 | 2022\nRevenues | 2023: 51,217 | 2022: 46,710\n"
                    "Costs | 2022: 1\n\nAfter.")
    assert text[span.start:span.end].split("\n")[0] == span.header == "(in millions) | 2023 | 2022"
    assert text[span.end:] == "\n\nAfter."


def test_values_carry_only_the_words_that_tell_their_columns_apart() -> None:
    months = [f"{n} Months Ended December 31, {y}" for n in ("Three", "Nine") for y in (2023, 2022)]
    head, row = Table(months, [("Net sales", ["5", "4", "15", "12"])]).lines()
    assert head == " | ".join(months)  # the header line, at the top of each chunk, stays whole
    assert row == "Net sales | Three 2023: 5 | Three 2022: 4 | Nine 2023: 15 | Nine 2022: 12"
    # where dropping the shared words would leave a header empty, or two alike, they stay whole
    assert Table(["Total", "Total restated"], [("A", ["1", "2"])]).lines()[1] == "A | Total: 1 | Total restated: 2"
    assert Table(["2023", "2023"], [("A", ["1", "2"])]).lines()[1] == "A | 2023: 1 | 2023: 2"


def test_a_table_without_headers_keeps_its_rows_and_has_no_header_line() -> None:
    text, [span] = join_blocks([Table(["", ""], [("Revenues", ["1", "2"])])])
    assert text == "Revenues | 1 | 2" and span.header == ""


def _table_text() -> tuple[str, TableSpan]:
    head = "Segment | 2023 | 2022"
    text, [span] = join_blocks(["Results by segment follow.", Table(["2023", "2022"], [
        (r.split(" | ")[0], [c.split(": ")[1] for c in r.split(" | ")[1:]]) for r in ROWS], "Segment"),
        "The table ends here."])
    assert span.header == head
    return text, span


def test_chunks_never_end_inside_a_row_and_repeat_the_header() -> None:
    text, span = _table_text()
    chunks = chunk_text(text, chunk_tokens=80, overlap=20, tables=[span])
    assert len(chunks) > 5 and all(count(c) <= 80 for c in chunks)
    rows = [line for c in chunks for line in c.split("\n") if line.startswith("Item ")]
    assert rows == ROWS  # every row whole, once, in order: no overlap inside a table
    for c in chunks[1:]:
        if any(line.startswith("Item ") for line in c.split("\n")):
            assert c.startswith(span.header + "\n"), c
    assert chunks[0].startswith("Results by segment follow.") and chunks[-1].endswith("The table ends here.")


def test_fit_cuts_a_table_between_rows_and_repeats_its_header() -> None:
    text, span = _table_text()
    block = text[span.start:span.end]
    out = fit([block], "Title\n", lambda ts: [count(t) for t in ts], limit=120, headers={span.header})
    assert len(out) > 2 and all(o.startswith(span.header + "\n") for o in out)
    assert [line for o in out for line in o.split("\n") if line != span.header] == ROWS


def test_text_without_tables_is_chunked_as_before() -> None:
    text = " ".join(f"Sentence {i} is about the budget of the city." for i in range(40))
    assert chunk_text(text, 50, 10) == chunk_text(text, 50, 10, tables=[])


def test_pdf_table_rows_carry_their_label_and_column_headers(tmp_path: Path) -> None:
    lines = [[(200, "Consolidated Statement of Income")], [(400, "2023"), (480, "2022")]]
    lines += [[(50, label), (400, a), (480, b)] for label, a, b in
              [("Revenues", "51,217", "46,710"), ("Cost of sales", "20,001", "19,500"),
               ("Operating income", "9,876", "8,765"), ("Net income", "$ 5,432", "$ 4,321")]]
    lines += [[(50, "The company grew in every segment this year.")]]
    ops = ["BT", "/F1 10 Tf"]
    for n, cells in enumerate(lines):
        ops += [f"1 0 0 1 {x} {760 - 14 * n} Tm ({t}) Tj" for x, t in cells]
    stream = "\n".join(ops + ["ET"]).encode()
    path = tmp_path / "t.pdf"
    path.write_bytes(assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font "
                               b"<< /F1 3 0 R >> >> /Contents 5 0 R >>",
                               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]))
    [doc] = read(path)
    [(page, text)] = doc.pages
    assert "Revenues | 2023: 51,217 | 2022: 46,710" in text
    assert "Net income | 2023: $ 5,432 | 2022: $ 4,321" in text
    [span] = doc.tables[1]
    assert span.header == "2023 | 2022" and text[span.start:span.end].startswith("2023 | 2022\nRevenues")
    assert text.startswith("Consolidated Statement of Income\n")
    assert text.endswith("The company grew in every segment this year.")


def test_docx_tables_come_in_order_with_their_headers(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("Before the table.")
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["", "2023", "2022"], ["Revenues", "51,217", "46,710"], ["Costs", "1", "2"]]):
        for c, value in enumerate(row):
            t.cell(r, c).text = value
    d.add_paragraph("After the table.")
    layout = d.add_table(rows=1, cols=2)
    layout.cell(0, 0).text, layout.cell(0, 1).text = "Left", "Right"
    d.save(str(tmp_path / "w.docx"))
    [doc] = read(tmp_path / "w.docx")
    text = doc.pages[0][1]
    assert text == ("Before the table.\n\n2023 | 2022\nRevenues | 2023: 51,217 | 2022: 46,710\n"
                    "Costs | 2023: 1 | 2022: 2\n\nAfter the table.\n\nLeft | Right")
    [span] = doc.tables[None]
    assert span.header == "2023 | 2022"


def test_html_tables_use_th_headers_and_colspans(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text("<html><body><article><p>Results.</p><table>"
                    "<thead><tr><th>Segment</th><th colspan=2>Revenue</th></tr>"
                    "<tr><th></th><th>2023</th><th>2022</th></tr></thead>"
                    "<tr><th>Cloud</th><td>5</td><td>4</td></tr><tr><td>Devices</td><td>3</td><td>2</td></tr>"
                    "</table><p>The end.</p></article></body></html>", encoding="utf-8")
    [doc] = read(page)
    assert doc.pages[0][1] == ("Results.\n\nSegment | Revenue 2023 | Revenue 2022\n"
                               "Cloud | 2023: 5 | 2022: 4\nDevices | 2023: 3 | 2022: 2"
                               "\n\nThe end.")
    assert doc.tables[None][0].header == "Segment | Revenue 2023 | Revenue 2022"


def test_fit_ends_on_a_header_and_one_row_too_long_for_the_model() -> None:
    head = "Segment | 2023 | 2022"
    text = head + "\n" + "Cloud services and other | 2023: " + " ".join(["1,234"] * 40) + " | 2022: 5"
    out = fit([text], "", lambda ts: [count(t) for t in ts], limit=60, headers={head})
    assert all(count(o) <= 60 or len(o) < 20 for o in out)
    assert " ".join(out).split() == text.split()

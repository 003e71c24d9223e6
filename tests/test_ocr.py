"""Scanned PDF pages: found, read by OCR (the real Tesseract), marked as such in their chunks;
reported, never dropped, where no OCR engine is; read without --force once one is; bounded."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest
from ingest.ocr import OcrOptions
from ingest.readers.pdf import read_pdf, read_pdf_here
from ingest.readers.scan import check_text
from tests.pdfgen import assemble, write_pdf

HARBOUR = ("The harbour authority approved the new container terminal in March after a long review "
           "of its costs and of the dredging it needs.")
RAIN = "Rainfall in the northern provinces was twice the average, and the river rose above its banks."
BUDGET = "The budget of the ministry for rural clinics grew by a fifth in the second half of the year."


@pytest.fixture(scope="module")
def tesseract() -> None:
    missing = OcrOptions().missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run installs it (make ocr)")
        pytest.skip(missing)


def scanned(tmp_path: Path, texts: list[str], name: str = "scan.pdf") -> Path:
    """An image-only PDF of `texts`, a page each: real PDF pages rendered at 200 dpi, as a scanner
    would give them."""
    import pypdfium2 as pdfium

    digital = pdfium.PdfDocument(str(write_pdf(tmp_path / f"digital-{name}", texts)))
    images = [digital[i].render(scale=200 / 72, grayscale=True).to_pil() for i in range(len(digital))]
    images[0].save(tmp_path / name, save_all=True, append_images=images[1:], resolution=200)
    (tmp_path / f"digital-{name}").unlink()
    return tmp_path / name


def mixed(tmp_path: Path, folder: Path) -> Path:
    """Three pages: digital, scanned, digital."""
    import pypdfium2 as pdfium

    digital = pdfium.PdfDocument(str(write_pdf(tmp_path / "d.pdf", [HARBOUR, "", BUDGET])))
    scan = pdfium.PdfDocument(str(scanned(tmp_path, [RAIN], "s.pdf")))
    out = pdfium.PdfDocument.new()
    out.import_pages(digital, [0])
    out.import_pages(scan, [0])
    out.import_pages(digital, [2])
    buffer = io.BytesIO()
    out.save(buffer)
    folder.mkdir(exist_ok=True)
    (folder / "mixed.pdf").write_bytes(buffer.getvalue())
    return folder / "mixed.pdf"


def image_pdf(pages: int, size: tuple[int, int] = (17, 22), inches: float = 8.5) -> bytes:
    """`pages` pages, each one small grey image (`size` pixels) stretched over the whole page,
    `inches` wide: cheap to build, found as scans."""
    from PIL import Image

    image = Image.new("L", size, 200)
    out = io.BytesIO()
    image.save(out, "PDF", save_all=True, append_images=[image] * (pages - 1), resolution=size[0] / inches)
    return out.getvalue()


def test_a_page_needs_ocr_without_a_text_layer_or_with_a_garbage_one() -> None:
    letter = 8.5 * 11
    assert check_text("", letter, 1.0).needs_ocr  # a scan
    assert check_text("CONFIDENTIAL 00123", letter, 0.95).needs_ocr  # a scan under a stamped header
    assert check_text("\ufffd\ufffd \ue012\ue013 x" * 50, letter, 0.0).needs_ocr  # glyphs with no Unicode
    assert not check_text("", letter, 0.0).needs_ocr  # a blank page: nothing to read
    assert not check_text(HARBOUR * 10, letter, 0.9).needs_ocr  # text beside a large picture
    assert not check_text("Figure 3", letter, 0.3).needs_ocr  # a chart's caption under a small chart


def test_a_missing_tesseract_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert "setting ocr_engine" in (OcrOptions("none").missing() or "")
    monkeypatch.setenv("PATH", str(tmp_path))  # what a user without the Debian package has
    assert "no `tesseract` on the PATH" in (OcrOptions().missing() or "")
    assert "make ocr" in (OcrOptions().missing() or "")


@pytest.mark.slow
def test_tesseract_reads_scanned_pages(tesseract: None, tmp_path: Path) -> None:
    path = scanned(tmp_path, [HARBOUR, RAIN])
    (doc,) = read_pdf(path, path.read_bytes())  # through the parse worker, as ingestion reads it
    assert [n for n, _ in doc.pages] == [1, 2] and set(doc.ocr) == {1, 2}
    words = set(" ".join(t for _, t in doc.pages).lower().split())
    want = set((HARBOUR + " " + RAIN).lower().split())
    assert len(want & words) >= 0.9 * len(want)
    assert all(c is not None and 0.5 < c <= 1 for c in doc.ocr.values())
    # Read here too; this process embeds, so its environment must not change: OMP_THREAD_LIMIT=1
    # changes torch's kernels, the embeddings and then answers (the README's showcase changed).
    before = os.environ.get("OMP_THREAD_LIMIT")
    (here,) = read_pdf_here(path, path.read_bytes())
    assert here.pages == doc.pages and os.environ.get("OMP_THREAD_LIMIT") == before


@pytest.mark.slow
def test_pages_to_ocr_extend_the_parse_deadline(tesseract: None, tmp_path: Path) -> None:
    from ingest.limits import Limits

    path = scanned(tmp_path, [HARBOUR, RAIN, BUDGET] * 4)
    limits = Limits.from_settings(Settings(max_file_seconds=2))  # under what 12 pages' OCR takes here
    (doc,) = read_pdf(path, path.read_bytes(), limits)  # the worker asked its parent for more time
    assert set(doc.ocr) == set(range(1, 13))


def test_a_language_without_its_pack_is_named(tesseract: None) -> None:
    assert "tesseract-ocr-xyz" in (OcrOptions(languages="eng+xyz").missing() or "")


@pytest.mark.slow
def test_an_image_only_pdf_is_ingested_searchable_and_marked(tesseract: None, tmp_path: Path, settings: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from assistant import Assistant

    (tmp_path / "docs").mkdir()
    scanned(tmp_path / "docs", [HARBOUR, RAIN])
    report = ingest([tmp_path / "docs"], settings)
    assert report.ok and len(report.added) == 1, report.summary()
    assert "Read by OCR: 2 scanned pages of 1 files." in report.summary()
    got = Store.open(settings).everything()
    assert all(m.ocr and m.ocr_confidence and m.ocr_confidence > 0.5 for m in got.metas)
    hits = Assistant(settings=settings).search("container terminal dredging", k=3)
    assert hits[0].page == 1 and hits[0].ocr and hits[0].ocr_confidence
    # The chat and the CLI say so beside the source: its words may be misread.
    from assistant.app import cli
    from assistant.app.ui_render import meta_line
    from assistant.types import Citation

    assert "read by OCR (" in meta_line(Citation.from_passage(1, hits[0]))
    assert cli.main(["search", "container terminal dredging", "--store", str(settings.store), "-k", "1"]) == 0
    assert "read by OCR (" in capsys.readouterr().out


@pytest.mark.slow
def test_a_mixed_pdf_keeps_its_text_layer_and_reads_its_scan(tesseract: None, tmp_path: Path,
                                                             settings: Settings) -> None:
    mixed(tmp_path, tmp_path / "docs")
    report = ingest([tmp_path / "docs"], settings)
    assert report.ok and len(report.added) == 1, report.summary()
    got = Store.open(settings).everything()
    pages = {m.page: (m.ocr, "".join(t.split())) for m, t in zip(got.metas, got.texts)}  # pdfgen wraps lines
    assert pages[1] == (False, "".join(HARBOUR.split())) and pages[3] == (False, "".join(BUDGET.split()))
    assert pages[2][0] and "northernprovinces" in pages[2][1]


@pytest.mark.slow
def test_without_ocr_scans_are_reported_and_read_later_without_force(tesseract: None, tmp_path: Path,
                                                                    settings: Settings) -> None:
    docs = tmp_path / "docs"
    mixed(tmp_path, docs)
    scanned(docs, [RAIN], "scan.pdf")
    off = settings.replace(ocr_engine="none")
    first = ingest([docs], off)
    assert first.ok and not first.added and len(first.needs_ocr) == 2, first.summary()
    summary = first.summary()
    assert "2 need OCR" in summary and "Need OCR: 2 scanned pages of 2 files" in summary
    assert "make ocr" in summary and "no --force needed" in summary
    # The mixed file's digital pages are in; its scan is not, and nothing is marked as OCR.
    got = Store.open(off).everything()
    assert {m.page for m in got.metas} == {1, 3} and not any(m.ocr for m in got.metas)
    assert ingest([docs], off).needs_ocr  # still reported, run after run
    later = ingest([docs], settings)  # an engine now: both read, with no --force
    assert {Path(f.path).name for f in later.updated} == {"mixed.pdf"}, later.summary()
    assert {Path(f.path).name for f in later.added} == {"scan.pdf"} and not later.needs_ocr
    got = Store.open(settings).everything()
    assert {(Path(m.file).name, m.page) for m in got.metas if m.ocr} == {("mixed.pdf", 2), ("scan.pdf", 1)}
    assert not ingest([docs], settings).updated  # and then they are unchanged
    assert not any("ocr_pending" in r for r in Store.open(settings).file_records().values())


def test_a_500_page_scan_is_refused_before_any_page_is_read(tmp_path: Path) -> None:
    data = image_pdf(500)
    start = time.monotonic()
    with pytest.raises(Exception, match=r"500 of the PDF's 500 pages are scanned images, over the limit of "
                                        r"100 pages read by OCR per file \(setting max_ocr_pages\)"):
        read_pdf(tmp_path / "big.pdf", data)
    assert time.monotonic() - start < 30


def test_a_page_of_200_by_200_inches_is_not_rendered(tmp_path: Path) -> None:
    data = image_pdf(1, size=(200, 200), inches=200)
    with pytest.raises(Exception, match=r"200 x 200 in, too large to OCR at 150 dpi"):
        read_pdf(tmp_path / "huge.pdf", data)


def test_thousands_of_tiny_images_stay_within_the_limits(tesseract: None, tmp_path: Path) -> None:
    # One 1x1 image drawn 3,000 times, a grid over the page: each draw is a page object.
    ops = "\n".join(f"q 9 0 0 15 {12 + 10 * (i % 60)} {20 + 16 * (i // 60)} cm /Im Do Q" for i in range(3000))
    stream = ops.encode()
    data = assemble([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
                     b"/Resources << /XObject << /Im 5 0 R >> >> /Contents 4 0 R >>",
                     b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
                     b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
                     b"/BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream"])
    start = time.monotonic()
    with pytest.raises(Exception, match="no extractable text: its 1 scanned pages were read by OCR and hold none"):
        read_pdf_here(tmp_path / "tiles.pdf", data)
    assert time.monotonic() - start < 30


def test_a_scanned_page_is_marked_where_ocr_reads_the_sentence(tesseract: None, tmp_path: Path) -> None:
    from assistant.app.page_image import render_page

    data = scanned(tmp_path, [HARBOUR]).read_bytes()
    drawn = render_page(data, 1, [HARBOUR, "The ferry to the islands was cancelled for the whole winter."])
    found, missing = drawn.marks
    assert found.found and not missing.found  # no text layer: the boxes are OCR's
    left, top, right, bottom = found.boxes[0]
    assert top < 0.2 and 0 < left < right < 1 and top < bottom  # write_pdf sets the text at the top
    assert len(found.boxes) == 2  # the sentence runs over two of the page's lines, one box each

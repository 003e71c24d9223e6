"""A cited PDF page, drawn with its evidence marked: `GET /api/page` over a real server and a
store of real PDFs (the PNG, marks where the sentence stands and nowhere else, sentences not on
the page, the permissions and refusals of /api/file, a 200-inch page kept small), the drawing
itself (line breaks, a rotated page), the worker's limits, and the chat opening a citation on
the page in a real browser."""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from assistant.accounts import Accounts
from assistant.app import page_worker
from assistant.app.login import Throttle
from assistant.app.page_image import MAX_PIXELS, MAX_SIDE, PageImage, PageUnavailable, render_page, scale_for
from assistant.app.pool import Pool
from assistant.app.server import build_app, serve
from assistant.settings import Settings

from conftest import ROOT
from pdfgen import _escape, assemble, write_pdf

EVIDENCE = "The Sennport harbour authority closed the northern quay on 14 May 2021 after the storm broke its pier."
QUESTION = "When did the Sennport harbour authority close the northern quay?"
POSTER = "The poster announces the spring festival of the capital in very large letters."
ELSEWHERE = "The national orchestra toured four provinces in the autumn and played to full halls."
FILLER = ["Rainfall in the eastern valleys stayed close to the long-term average for the season.",
          "The statistics office revised its population estimate for the coastal districts upwards.",
          "Two new primary schools opened in the capital, each with places for six hundred pupils.",
          "Electricity prices for households were unchanged, as the regulator had announced in spring.",
          "The railway timetable added an evening service between the capital and the border town."]


def _filler(n: int) -> str:
    return " ".join(FILLER[i % len(FILLER)] for i in range(n))


def basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{user}'s password".encode()).decode()}


def one_page_pdf(path: Path, lines: list[str], width: int, height: int, size: int = 10, rotate: int = 0) -> Path:
    """One page of `width` x `height` points (a 200-inch page is 14,400), `lines` from its top
    left in `size` point type; `rotate`: the page's /Rotate, as a scanner or a landscape report sets it."""
    ops = [f"BT /F1 {size} Tf {round(size * 1.2)} TL {4 * size} {height - 4 * size} Td"]
    ops += [f"({_escape(line)}) Tj T*" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("latin-1")
    path.write_bytes(assemble([b"<< /Type /Catalog /Pages 2 0 R >>",
                               b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                               f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Rotate {rotate} "
                               f"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>".encode(),
                               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]))
    return path


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def changed_within(marked: bytes, plain: bytes, boxes: list[list[float]]) -> None:
    """The marked image differs from the plain one inside every box, and nowhere outside them."""
    a, b = pixels(marked), pixels(plain)
    assert a.shape == b.shape
    h, w = a.shape[:2]
    diff = np.abs(a - b).sum(axis=2) > 0
    inside = np.zeros_like(diff)
    for left, top, right, bottom in boxes:
        x0, y0, x1, y1 = int(left * w) - 1, int(top * h) - 1, int(right * w) + 2, int(bottom * h) + 2
        inside[max(y0, 0):y1, max(x0, 0):x1] = True
        box = a[max(y0, 0) + 3:y1 - 3, max(x0, 0) + 3:x1 - 3]
        assert diff[max(y0, 0):y1, max(x0, 0):x1].mean() > 0.5  # tinted, text and paper alike
        # Paper under a mark is yellow: red and green high, blue lower; text stays dark.
        paper = box[box.sum(axis=2) > 600]
        assert len(paper) and (paper[:, 2] < paper[:, 0] - 40).mean() > 0.9
    assert diff.any() and not (diff & ~inside).any()


# -- the drawing itself, no server --------------------------------------------------------
def test_a_sentence_across_line_breaks_is_marked_where_it_stands(tmp_path: Path) -> None:
    # write_pdf breaks lines every 90 characters, mid-word: the page's text differs from the sentence.
    data = write_pdf(tmp_path / "a.pdf", [_filler(6) + " " + EVIDENCE, "Page two."]).read_bytes()
    drawn = render_page(data, 1, ["  The Sennport harbour\nauthority closed the northern quay on 14 May 2021 "
                                  "after the storm broke its pier.", ELSEWHERE])
    plain = render_page(data, 1)
    assert (drawn.width, drawn.height, drawn.pages) == (1224, 1684, 2)  # 2x an A4 page
    assert [m.found for m in drawn.marks] == [True, False] and len(drawn.marks[0].boxes) >= 2
    changed_within(drawn.png, plain.png, [list(b) for b in drawn.marks[0].boxes])
    assert 0 < (drawn.first_mark_top or 0) < 0.3


def test_marks_land_on_a_rotated_page(tmp_path: Path) -> None:
    # One line: PDFium orders the lines of a sideways page in its own way.
    data = one_page_pdf(tmp_path / "r.pdf", [FILLER[0], EVIDENCE, FILLER[1]], 612, 842, rotate=90).read_bytes()
    drawn, plain = render_page(data, 1, [EVIDENCE]), render_page(data, 1)
    assert drawn.width > drawn.height  # landscape, as the page is shown
    boxes = [list(b) for b in drawn.marks[0].boxes]
    changed_within(drawn.png, plain.png, boxes)
    # The text runs down the turned page: its box is tall and narrow, over dark text.
    a = pixels(plain.png)
    for left, top, right, bottom in boxes:
        assert (bottom - top) * drawn.height > (right - left) * drawn.width
        region = a[int(top * drawn.height):int(bottom * drawn.height), int(left * drawn.width):int(right * drawn.width)]
        assert (region.sum(axis=2) < 200).any()


def test_a_page_that_is_not_there_or_a_file_that_is_not_a_pdf(tmp_path: Path) -> None:
    data = write_pdf(tmp_path / "a.pdf", ["One.", "Two."]).read_bytes()
    with pytest.raises(PageUnavailable, match="The file has 2 pages: there is no page 3.") as e:
        render_page(data, 3)
    assert e.value.status == 404
    with pytest.raises(PageUnavailable, match="cannot be read as a PDF"):
        render_page(b"%PDF-1.4 not really", 1)


def test_every_page_size_is_drawn_within_the_bounds() -> None:
    for width, height in ((612, 842), (14_400, 14_400), (14_400, 10), (3, 14_400), (1, 1), (0, 0)):
        scale = scale_for(width, height)
        w, h = math.ceil(max(width, 1) * scale), math.ceil(max(height, 1) * scale)
        assert max(w, h) <= MAX_SIDE and w * h <= MAX_PIXELS and scale <= 2
    assert scale_for(612, 842) == 2  # an ordinary page at 144 dpi


def test_the_worker_stops_a_slow_page_and_starts_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = write_pdf(tmp_path / "a.pdf", [EVIDENCE])
    pages = page_worker.Pages()
    try:
        with pdf.open("rb") as f:
            first = pages.draw(f, 1, [EVIDENCE])
        assert isinstance(first, PageImage) and first.found
        worker = pages._worker
        assert worker is not None
        worker.proc.kill()  # as if PDFium had crashed it: the next page gets a fresh worker
        worker.proc.wait()
        with pdf.open("rb") as f:
            assert pages.draw(f, 1, []).png  # not the cached one: other marks
        monkeypatch.setattr(page_worker, "RENDER_SECONDS", 0.0)
        with pdf.open("rb") as f, pytest.raises(PageUnavailable, match="took over 0 s, the limit"):
            pages.draw(f, 1, ["another mark, never drawn before"])
        assert pages._worker is None
        with pdf.open("rb") as f:  # drawn pages are kept: no worker needed
            assert pages.draw(f, 1, [EVIDENCE]) is first
    finally:
        pages.close()


# -- /api/page over a real server ---------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path], Path]]:
    from ingest import ingest

    here = tmp_path_factory.mktemp("pages")
    (here / "main").mkdir()
    (here / "secret").mkdir()
    files = {"report": write_pdf(here / "main" / "harbour-report.pdf",
                                 [_filler(4), _filler(40) + " " + EVIDENCE + " " + _filler(4)], title="Harbour report"),
             "huge": one_page_pdf(here / "main" / "poster.pdf", [POSTER], 14400, 14400, size=40),
             "notes": here / "main" / "notes.md",
             "secret": write_pdf(here / "secret" / "plans.pdf", [ELSEWHERE])}
    files["notes"].write_text("# Notes\n\nThe orchestra toured.\n", encoding="utf-8")
    settings = Settings(store=here / "store", state_url=f"sqlite:///{here / 'state.db'}",
                        audit_log=str(here / "audit.jsonl"))
    for folder, collection in (("main", "main"), ("secret", "secret")):
        report = ingest([here / folder], settings, collection=collection)
        assert report.ok, report.summary()
    with Accounts.open(settings) as accounts:
        accounts.add("ann", "reader", "ann's password", read=["main", "secret"])
        accounts.add("bob", "reader", "bob's password", read=["main"])
    with serve(build_app(Pool(settings), throttle=Throttle(free=10**9))) as server:
        yield server.url, {k: v.resolve() for k, v in files.items()}, here / "audit.jsonl"


def test_the_page_comes_back_with_the_sentence_marked(served: tuple[str, dict[str, Path], Path]) -> None:
    url, files, _ = served
    path = str(files["report"])
    with httpx.Client(base_url=url, timeout=120, headers=basic("bob")) as c:
        started = time.perf_counter()
        r = c.get("/api/page", params={"path": path, "page": 2, "mark": [EVIDENCE, ELSEWHERE]})
        took = time.perf_counter() - started
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png" and r.headers["x-marks-found"] == "1 of 2"
        assert r.headers["x-page-count"] == "2" and float(r.headers["x-first-mark-top"]) > 0.4
        info = c.get("/api/page", params={"path": path, "page": 2, "mark": [EVIDENCE, ELSEWHERE],
                                          "format": "json"}).json()
        assert [m["found"] for m in info["marks"]] == [True, False] and info["marks"][1]["boxes"] == []
        assert (info["page"], info["pages"], info["width"], info["height"]) == (2, 2, 1224, 1684)
        plain = c.get("/api/page", params={"path": path, "page": 2})
        changed_within(r.content, plain.content, info["marks"][0]["boxes"])
        # A sentence on no line of the page: reported missing, and nothing is drawn.
        missing = c.get("/api/page", params={"path": path, "page": 2, "mark": ELSEWHERE})
        assert missing.headers["x-marks-found"] == "0 of 1" and "x-first-mark-top" not in missing.headers
        assert missing.content == plain.content
        again = time.perf_counter()
        assert c.get("/api/page", params={"path": path, "page": 2, "mark": [EVIDENCE, ELSEWHERE]}).content == r.content
        print(f"\npage drawn in {took * 1000:.0f} ms (a fresh worker), again from the cache in "
              f"{(time.perf_counter() - again) * 1000:.0f} ms")


def test_a_200_inch_page_is_drawn_small_and_quickly(served: tuple[str, dict[str, Path], Path]) -> None:
    url, files, _ = served
    with httpx.Client(base_url=url, timeout=120, headers=basic("bob")) as c:
        c.get("/api/page", params={"path": str(files["report"]), "page": 1})  # the worker started
        started = time.perf_counter()
        r = c.get("/api/page", params={"path": str(files["huge"]), "page": 1, "mark": POSTER})
        took = time.perf_counter() - started
    assert r.status_code == 200 and r.headers["x-marks-found"] == "1 of 1"
    image = Image.open(io.BytesIO(r.content))
    assert max(image.size) <= MAX_SIDE and image.width * image.height <= MAX_PIXELS
    assert took < 10, took
    print(f"\n14,400 pt page drawn at {image.width}x{image.height} in {took * 1000:.0f} ms")


def test_pages_are_refused_as_files_are(served: tuple[str, dict[str, Path], Path]) -> None:
    url, files, audit = served
    secret, report = str(files["secret"]), str(files["report"])
    with httpx.Client(base_url=url, timeout=120) as c:
        assert c.get("/api/page", params={"path": secret, "page": 1}, headers=basic("ann")).status_code == 200
        nowhere = [c.get("/api/page", params=p, headers=basic("bob")) for p in (
            {"path": secret, "page": 1},  # a collection bob may not read
            {"path": "/etc/passwd", "page": 1},  # not in the store
            {"path": str(files["report"].parent / ".." / "secret" / "plans.pdf"), "page": 1},
            {"path": "../secret/plans.pdf", "page": 1})]
        assert [r.status_code for r in nowhere] == [404] * 4
        assert {r.json()["error"]["message"] for r in nowhere} == {"The archive holds no such file."}
        assert c.get("/api/page", params={"path": report, "page": 1}).status_code == 401  # not signed in
        bad = {"page 0": c.get("/api/page", params={"path": report, "page": 0}, headers=basic("bob")),
               "page 9": c.get("/api/page", params={"path": report, "page": 9}, headers=basic("bob")),
               "page x": c.get("/api/page", params={"path": report, "page": "x"}, headers=basic("bob")),
               "gif": c.get("/api/page", params={"path": report, "page": 1, "format": "gif"}, headers=basic("bob")),
               "md": c.get("/api/page", params={"path": str(files["notes"]), "page": 1}, headers=basic("bob")),
               "marks": c.get("/api/page", params={"path": report, "page": 1, "mark": ["x"] * 21},
                              headers=basic("bob"))}
    said = {k: (r.status_code, r.json()["error"]["message"]) for k, r in bad.items()}
    assert said["page 0"] == (400, "Pages are numbered from 1.")
    assert said["page 9"] == (404, "The file has 2 pages: there is no page 9.")
    assert said["page x"][0] == 422 and "page" in said["page x"][1]
    assert said["gif"] == (400, "format is png or json, not 'gif'.")
    assert said["md"] == (400, "Only PDF pages are drawn; /api/file serves the file itself.")
    assert said["marks"][0] == 400
    events = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    pages = [(e["user"], e["status"], e["collections"]) for e in events if e.get("route") == "/api/page"]
    assert ("ann", 200, ["secret"]) in pages and ("bob", 404, []) in pages and ("bob", 400, ["main"]) in pages


# -- the chat, in a real browser ----------------------------------------------------------
def test_a_cited_pdf_opens_on_its_page_with_the_evidence_marked(browser, served) -> None:
    from test_browser import ask, new_page, shot

    url, files, _ = served
    page = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.fill("#name", "bob")
    page.fill("#password", "bob's password")
    page.click("button[type=submit]")
    page.wait_for_selector("#archive-status .archive-status")
    ask(page, QUESTION, answers_before=0)
    assert "14 May 2021" in page.locator("#chat .answer").last.inner_text()
    page.locator("#chat .answer a.cite").first.click()
    card = page.locator("#sources .source.open")
    card.wait_for()
    assert "Page 2 of harbour-report.pdf" in card.locator(".page-line").inner_text()
    assert card.locator(".page-line a").get_attribute("href") == \
        f"/api/file?path={files['report'].as_posix().replace('/', '%2F')}#page=2"
    image = card.locator("img.page-image")
    page.wait_for_function("() => { const i = document.querySelector('#sources img.page-image'); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    assert "mark=" in (image.get_attribute("src") or "")
    # Scrolled to the mark: the evidence is low on the page, and in view inside its frame.
    page.wait_for_selector("#sources .page-view.at-mark")
    where = page.evaluate("""() => { const v = document.querySelector('#sources .page-view');
        const i = v.querySelector('img'); return {top: v.scrollTop, view: v.clientHeight, image: i.clientHeight}; }""")
    info = page.evaluate("src => fetch(src + '&format=json').then(r => r.json())", image.get_attribute("src"))
    mark_top = info["first_mark_top"] * where["image"]
    assert where["top"] > 0 and where["top"] <= mark_top <= where["top"] + where["view"]
    assert card.locator("blockquote.passage mark.support").count() >= 1  # the text is still there
    width = image.bounding_box()["width"]
    image.click()  # zoomed to twice the panel's width, and back
    assert page.locator("#sources .page-view.zoomed").count() == 1 and image.bounding_box()["width"] > 1.9 * width
    image.click()
    assert page.locator("#sources .page-view.zoomed").count() == 0
    ARTIFACTS = ROOT / "test-artifacts"
    shot(page, "chat-pdf-page")
    card.screenshot(path=str(ARTIFACTS / "chat-pdf-page-card.png"))  # docs/screenshots/chat-pdf-page.png
    assert (ARTIFACTS / "chat-pdf-page.png").exists() and not errors, errors

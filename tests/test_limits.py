"""Bombs: files within max_file_mb that would inflate, page or chunk without bound. Each test
builds its bomb for real, in a few megabytes at most; the full-scale ones are read in a child
process with its address space capped (RLIMIT_AS) and a timeout, so that code without the
limits fails there, in seconds, instead of taking the machine's memory or running for hours.
The rest lower the limits through Settings and ingest through the real `ingest()`.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest

from conftest import ROOT
from pdfgen import assemble

# -- bombs ---------------------------------------------------------------------------------------


def deflate_repeated(head: bytes, unit: bytes, times: int, tail: bytes) -> bytes:
    """Raw deflate data for head + unit * times + tail, made without inflating it: after a full
    flush the compressor starts afresh, so `unit` compresses to the same bytes every time."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    segment = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    return first + segment * times + c.compress(tail) + c.flush(zlib.Z_FINISH)


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A zip of (name, data as stored, method, CRC-32, declared size) members, the sizes as given."""
    out, central = bytearray(), bytearray()
    for name, raw, method, crc, size in members:
        n = name.encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(raw), size,
                               len(n), 0, 0, 0, 0, 0, len(out)) + n
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(raw), size, len(n), 0)
        out += n + raw
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                                 len(out), 0)
    path.write_bytes(bytes(out))
    return path


def docx_bomb(path: Path, inflated_mb: float, forged: bool = False, stored: bool = False) -> Path:
    """A valid .docx (one real paragraph) whose document.xml goes on with `inflated_mb` MB of
    empty paragraphs. `forged`: its zip entry declares the size of the real document.xml, with
    the CRC of that many inflated bytes, so zipfile itself finds nothing wrong. `stored`: not
    compressed at all."""
    import docx

    d = docx.Document()
    d.add_paragraph("The harbour authority's one real paragraph.")
    buf = io.BytesIO()
    d.save(buf)
    members = []
    with zipfile.ZipFile(buf) as z:
        for info in z.infolist():
            data = z.read(info)
            if info.filename != "word/document.xml":
                c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
                members.append((info.filename, c.compress(data) + c.flush(), 8, zlib.crc32(data), len(data)))
                continue
            cut = data.index(b"<w:body>") + len(b"<w:body>")
            head, tail, unit = data[:cut], data[cut:], b"<w:p/>" * (1 << 17)  # 768 KB
            times = max(1, round(inflated_mb * 2**20 / len(unit)))
            size, crc = len(head) + len(unit) * times + len(tail), zlib.crc32(head)
            for _ in range(times):
                crc = zlib.crc32(unit, crc)
            crc = zlib.crc32(tail, crc)
            if stored:
                body = head + unit * times + tail
                members.append((info.filename, body, 0, crc, size))
                continue
            raw = deflate_repeated(head, unit, times, tail)
            if forged:
                size = len(data)
                crc = zlib.crc32((head + unit)[:size])
            members.append((info.filename, raw, 8, crc, size))
    return write_zip(path, members)


def pdf_pages_bomb(path: Path, fanout: int = 1000) -> Path:
    """A PDF whose page tree is two levels of `fanout` references to one node, and so declares
    fanout**2 pages, every one of them the same readable page (12.7 KB for a million)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(['3 0 R'] * fanout)}] /Count {fanout * fanout} >>".encode(),
        f"<< /Type /Pages /Parent 2 0 R /Kids [{' '.join(['4 0 R'] * fanout)}] /Count {fanout} >>".encode(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    stream = b"BT /F1 12 Tf 72 720 Td (The ferry timetable, once more.) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    path.write_bytes(assemble(objects))
    return path


# -- full-scale bombs, read in a child process with its memory capped ------------------------------

CHILD = r"""
import json, resource, sys, time
cap = int(sys.argv[3]) << 20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import importlib
from pathlib import Path
module, name = sys.argv[1].rsplit(".", 1)
read = getattr(importlib.import_module(module), name)
path = Path(sys.argv[2])
start = time.perf_counter()
try:
    read(path, path.read_bytes())
    error = None
except BaseException as e:
    error = f"{type(e).__name__}: {e}"
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a big test process
# would report its parent's peak.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"error": error, "seconds": time.perf_counter() - start, "peak_mb": int(hwm.split()[1]) / 1024}))
"""
CAP_MB = 1024  # the child's address space; reading with the limits, it peaks at about 70 MB resident
TIMEOUT = 60


def read_in_child(reader: str, path: Path) -> dict:
    """Run `reader` on `path` in a child process with CAP_MB of address space and TIMEOUT seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        run = subprocess.run([sys.executable, "-c", CHILD, reader, str(path), str(CAP_MB)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{reader} ran past {TIMEOUT} s on {path.name}")
    assert run.returncode == 0, f"the child died ({run.returncode}): {run.stderr[-2000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_docx_inflating_to_a_gigabyte_is_refused_from_its_central_directory(tmp_path: Path) -> None:
    bomb = docx_bomb(tmp_path / "bomb.docx", 1024)
    with zipfile.ZipFile(bomb) as z:
        declared = sum(m.file_size for m in z.infolist())
    assert bomb.stat().st_size < 2 * 2**20 and declared > 2**30  # 1.6 MB, a gigabyte inflated
    got = read_in_child("ingest.readers.docx.read_docx", bomb)
    assert got["error"] == (f"IngestError: the archive inflates to {declared / 2**20:,.0f} MB, over the 200 MB "
                            "limit (setting max_inflated_mb)")
    assert got["seconds"] < 5 and got["peak_mb"] < 300


def test_a_docx_that_hides_its_size_is_refused_before_it_inflates(tmp_path: Path) -> None:
    """Its zip entry declares a few kilobytes (with the matching CRC) and the member inflates to a
    gigabyte: zipfile would inflate it all at once, then cut it to the declared size."""
    bomb = docx_bomb(tmp_path / "forged.docx", 1024, forged=True)
    got = read_in_child("ingest.readers.docx.read_docx", bomb)
    assert got["error"].startswith("IngestError: word/document.xml inflates to more than the ")
    assert got["error"].endswith(" bytes its zip entry declares: a forged archive, refused")
    assert got["seconds"] < 5 and got["peak_mb"] < 300


def test_a_pdf_declaring_a_million_pages_is_refused_before_reading_one(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    bomb = pdf_pages_bomb(tmp_path / "million.pdf")
    assert bomb.stat().st_size < 13_000
    pdf = pdfium.PdfDocument(bomb)
    try:  # a real million pages: the last one reads like the first
        assert len(pdf) == 1_000_000
        page = pdf[999_999]
        text = page.get_textpage()
        assert text.get_text_bounded() == "The ferry timetable, once more."
        text.close()
        page.close()
    finally:
        pdf.close()
    got = read_in_child("ingest.readers.pdf.read_pdf", bomb)  # without the limit: 35 s, then 1,000,000 chunks
    assert got["error"] == ("IngestError: the PDF has 1,000,000 pages, over the 5,000 page limit "
                            "(setting max_pages)")
    assert got["seconds"] < 5


# -- in process, with the limits lowered ----------------------------------------------------------


def test_the_limits_are_settings() -> None:
    from ingest.limits import Limits

    described = {name: default for name, default, _ in Settings.describe()}
    assert {k: described[k] for k in ("max_inflated_mb", "max_pages", "max_chunks", "max_file_seconds")} == \
        {"max_inflated_mb": "200.0", "max_pages": "5000", "max_chunks": "100000", "max_file_seconds": "120.0"}
    assert Limits.from_settings(Settings(max_pages=7)).pages == 7


def test_a_docx_bomb_below_the_size_limit_is_refused_by_its_ratio_or_its_tags(tmp_path: Path) -> None:
    from assistant.errors import IngestError
    from ingest.limits import Limits
    from ingest.readers.docx import read_docx

    squeezed = docx_bomb(tmp_path / "squeezed.docx", 8)  # 8 MB of empty paragraphs (and 0.8 MB of Word's) in 47 KB
    with pytest.raises(IngestError, match=r"^the archive inflates \d{3} times over, to 9 MB \(more than 100 "
                                          r"times is refused as a zip bomb\)$"):
        read_docx(squeezed, squeezed.read_bytes())  # the default limits: 200 MB
    limits = Limits.from_settings(Settings(max_inflated_mb=4))
    dense = docx_bomb(tmp_path / "dense.docx", 0.75, stored=True)  # not compressed: 131,072 tags in 0.75 MB
    with pytest.raises(IngestError, match=r"^the archive's XML holds over 40,000 tags, the limit for "
                                          r"max_inflated_mb=4 \(10,000 per MB\)$"):
        read_docx(dense, dense.read_bytes(), limits)
    [doc] = read_docx(dense, dense.read_bytes(), Limits.from_settings(Settings(max_inflated_mb=20)))
    assert doc.text == "The harbour authority's one real paragraph."  # within the limits, read as before


def test_a_slow_pdf_stops_at_the_time_limit_naming_the_page(tmp_path: Path) -> None:
    from assistant.errors import IngestError
    from ingest.limits import Limits
    from ingest.readers.pdf import read_pdf

    bomb = pdf_pages_bomb(tmp_path / "million.pdf")
    limits = Limits.from_settings(Settings(max_pages=2_000_000, max_file_seconds=0.5))
    start = time.monotonic()
    with pytest.raises(IngestError, match=r"^parsing took over 0.5 s, the limit \(setting max_file_seconds\); "
                                          r"stopped at page [\d,]+ of 1,000,000$"):
        read_pdf(bomb, bomb.read_bytes(), limits)
    assert time.monotonic() - start < 5


def chunks_by_file(settings: Settings) -> dict[str, set[str]]:
    got = Store.open(settings).chunks.get(include=["metadatas"])
    out: dict[str, set[str]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"]):
        out.setdefault(meta["file"], set()).add(cid)
    return out


def test_each_bomb_fails_alone_with_its_line_and_what_was_stored_stays(tmp_path: Path, settings: Settings) -> None:
    import docx

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.md").write_text("# Harbour\n\nThe harbour authority publishes the ferry timetable.\n")
    letter = docx.Document()
    letter.add_paragraph("The ministry's letter on the ferry strike.")
    letter.save(docs / "letter.docx")
    first = ingest([docs], settings)
    assert first.ok and len(first.added) == 2
    before = chunks_by_file(settings)

    docx_bomb(docs / "letter.docx", 32)  # 32 MB and Word's 0.8: a stored file turned bomb keeps its chunks
    pdf_pages_bomb(docs / "million.pdf")
    (docs / "feed.jsonl").write_text("".join(json.dumps({"id": f"r{i}", "text": "Ferry."}) + "\n" for i in range(50)))
    (docs / "long.md").write_text("\n\n".join(f"Paragraph {i}: the harbour authority met the ferry workers' union "
                                              "again, and the talks went on into the night. " * 6 for i in range(40)))
    lowered = settings.replace(max_inflated_mb=16, max_chunks=20)
    start = time.monotonic()
    report = ingest([docs], lowered)
    assert time.monotonic() - start < 60
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert reasons == {
        "letter.docx": "the archive inflates to 33 MB, over the 16 MB limit (setting max_inflated_mb)",
        "million.pdf": "the PDF has 1,000,000 pages, over the 5,000 page limit (setting max_pages)",
        "feed.jsonl": "the file holds more than 20 records, one chunk each at least: over the limit of 20 chunks "
                      "(setting max_chunks)",
        "long.md": "the file makes more than 20 chunks, the limit (setting max_chunks)",
    }
    summary = report.summary()
    for f in report.failed:
        assert f"  failed:  {f.path}: {f.reason}" in summary
    assert "4 files failed" in summary and len(report.unchanged) == 1
    assert report.chunks_embedded == 0  # nothing of a refused file was embedded
    assert chunks_by_file(settings) == before

    slow = tmp_path / "slow"
    slow.mkdir()
    pdf_pages_bomb(slow / "million.pdf")
    timed = ingest([slow], settings.replace(max_pages=2_000_000, max_file_seconds=1))
    [failed] = timed.failed
    assert failed.reason.startswith("parsing took over 1 s, the limit (setting max_file_seconds); stopped at page ")
    assert f"  failed:  {failed.path}: {failed.reason}" in timed.summary()
    assert chunks_by_file(settings) == before


def test_a_feed_over_the_chunk_limit_midway_is_undone(tmp_path: Path, settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Records within the limit whose chunks are not: some were handed to the encoder before the
    limit was reached, and are undone; the file's previous chunks stay."""
    from ingest import pipeline
    from ingest.writer import Writer

    feed = tmp_path / "docs" / "feed.jsonl"
    feed.parent.mkdir()
    text = "The harbour report {i} was filed on time, and the ferry workers read it. " * 30
    feed.write_text(json.dumps({"id": "r0", "title": "First", "text": text.format(i=0)}) + "\n")
    assert ingest([feed.parent], settings).ok
    before = chunks_by_file(settings)
    feed.write_text("".join(json.dumps({"id": f"r{i}", "title": f"Item {i}", "text": text.format(i=i)}) + "\n"
                            for i in range(8)))
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 2)
    aborted: list[str] = []
    abort = Writer.abort

    def spy(writer: Writer, key: str) -> None:
        aborted.append(key)
        abort(writer, key)

    monkeypatch.setattr(Writer, "abort", spy)
    report = ingest([feed.parent], settings.replace(max_chunks=10))
    assert aborted == [str(feed.resolve())]  # chunks were handed over, then undone
    assert [f.reason for f in report.failed] == ["the file makes more than 10 chunks, the limit (setting max_chunks)"]
    assert chunks_by_file(settings) == before
    assert Store.open(settings).count() == sum(len(v) for v in before.values())

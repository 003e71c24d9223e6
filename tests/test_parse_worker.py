"""PDFs are read in a worker process with a memory cap and a deadline (ingest/readers/isolated.py):
a page bomb, which no check between pages can stop, fails alone with one line, and the process
that ingests (for chat uploads, the server) lives on."""

from __future__ import annotations

import resource
import time
import zlib
from pathlib import Path

import pytest

from assistant.errors import IngestError
from assistant.settings import Settings
from ingest import ingest
from ingest.limits import Limits
from ingest.readers.pdf import read_pdf

from pdfgen import assemble, write_pdf


def page_bomb(inflated_mb: int) -> bytes:
    """A one-page PDF whose content stream inflates to `inflated_mb` MB of text operators:
    PDFium builds an object per operator when it loads the page (64 MB: about 1.2 GB, in 4 s)."""
    op = b"BT /F1 1 Tf 1 1 Td (a) Tj ET\n"
    stream = zlib.compress(op * (inflated_mb * 2**20 // len(op)), 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    return assemble(objs)


def test_a_page_bomb_over_the_memory_cap_fails_alone(tmp_path: Path) -> None:
    bomb = page_bomb(64)
    assert len(bomb) < 200_000
    limits = Limits.from_settings(Settings(max_parse_mb=512))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(IngestError, match="max_parse_mb"):
        read_pdf(tmp_path / "bomb.pdf", bomb, limits)
    assert time.monotonic() - started < 30
    # The memory went to the worker, not to this process.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB
    # The next PDF gets a fresh worker and is read as usual.
    good = write_pdf(tmp_path / "good.pdf", ["The harbour authority inspects the ferries twice a year."])
    docs = read_pdf(good, good.read_bytes(), limits)
    assert "inspects the ferries" in docs[0].pages[0][1]


def test_a_page_past_the_deadline_is_killed(tmp_path: Path) -> None:
    limits = Limits.from_settings(Settings(max_file_seconds=0.5))
    started = time.monotonic()
    with pytest.raises(IngestError, match="max_file_seconds"):
        read_pdf(tmp_path / "slow.pdf", page_bomb(64), limits)  # about 4 s of one PDFium call
    assert time.monotonic() - started < 3


def test_ingestion_names_the_bomb_and_keeps_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "note.md").write_text("# Ferry note\n\nThe ferry to Sennport leaves at seven from pier four.\n")
    (folder / "bomb.pdf").write_bytes(page_bomb(64))
    report = ingest([folder], Settings(store=tmp_path / "store", max_parse_mb=512))
    summary = report.summary()
    assert "bomb.pdf" in summary and "max_parse_mb" in summary
    assert len(report.failed) == 1 and "note.md" not in str(report.failed)

"""What ingestion does with awkward things on disk: symbolic links (never followed out of a
folder), FIFOs and devices (never read), folders named like files, files that vanish or turn
into a FIFO between discovery and reading, and names that are not UTF-8."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from assistant.index.store import Store
from assistant.settings import Settings
from ingest import IngestReport, ingest, pipeline


def note(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {path.stem}\n---\n\n{text}\n")
    return path


def by_name(report: IngestReport) -> dict[str, tuple[str, str]]:
    return {Path(f.path).name: (f.status, f.reason) for f in report.files}


def stored_text(settings: Settings) -> str:
    return " ".join(Store.open(settings).everything().texts)


def ingest_within(seconds: float, *args: object, **kwargs: object) -> IngestReport:
    """ingest(), failing (instead of hanging the suite) if it blocks, as reading a FIFO would."""
    result: list[IngestReport] = []
    worker = threading.Thread(target=lambda: result.append(ingest(*args, **kwargs)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"ingestion did not finish in {seconds} s"
    return result[0]


def test_symbolic_links_in_a_folder_are_skipped_not_followed(tmp_path: Path, settings: Settings) -> None:
    outside = note(tmp_path / "private" / "secret.md", "The private salary list of the harbour staff.")
    docs = tmp_path / "docs"
    note(docs / "public.md", "The public notice about the harbour ferry timetable.")
    (docs / "leak.md").symlink_to(outside)
    (docs / "private-folder").symlink_to(outside.parent, target_is_directory=True)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    report = ingest_within(300, [docs], settings)
    got = by_name(report)
    assert got["public.md"] == ("added", "")
    for name in ("leak.md", "private-folder", "loop", "dangling.md"):
        assert got[name][0] == "skipped" and "symbolic link, not followed" in got[name][1]
    assert report.ok and "salary" not in stored_text(settings)
    # Named on the command line, a link is followed: the user chose its target.
    named = ingest([docs / "leak.md"], settings)
    assert [f.status for f in named.files] == ["added"] and "salary" in stored_text(settings)


def test_fifos_are_never_read(tmp_path: Path, settings: Settings) -> None:
    docs = tmp_path / "docs"
    note(docs / "ok.md", "A readable note about the assembly of the ferry workers.")
    os.mkfifo(docs / "pipe.md")  # opened for reading, it would wait for a writer forever
    report = ingest_within(300, [docs], settings)
    assert by_name(report) == {"ok.md": ("added", ""), "pipe.md": ("skipped", "not a regular file")}
    named = ingest_within(300, [docs / "pipe.md"], settings)
    assert by_name(named) == {"pipe.md": ("skipped", "not a regular file")}


def test_a_folder_named_like_a_file_is_a_folder(tmp_path: Path, settings: Settings) -> None:
    docs = tmp_path / "docs"
    note(docs / "annual-report.pdf" / "summary.md", "The summary of the annual report on the harbour.")
    report = ingest([docs], settings)
    assert by_name(report) == {"summary.md": ("added", "")} and report.ok


def test_a_name_that_is_not_utf8_fails_alone(tmp_path: Path, settings: Settings) -> None:
    docs = tmp_path / "docs"
    note(docs / "fine.md", "A fine note about the harbour of Sennport.")
    (docs / os.fsdecode(b"caf\xe9-notes.md")).write_text("Notes written on a machine with Latin-1 names.")
    report = ingest([docs], settings)
    [failed] = report.failed
    assert failed.path.endswith("caf\\xe9-notes.md") and "not valid UTF-8; rename it" in failed.reason
    assert [Path(f.path).name for f in report.added] == ["fine.md"]
    assert "not valid UTF-8" in report.summary()


@pytest.mark.parametrize("change", ["deleted", "replaced by a FIFO"])
def test_a_file_that_changes_kind_after_discovery_fails_alone(tmp_path: Path, settings: Settings,
                                                              monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    docs = tmp_path / "docs"
    note(docs / "a.md", "The first note about the ferry strike.")
    victim = note(docs / "b.md", "The second note, about to change under the ingestion.")
    discover = pipeline.discover

    def discover_then_change(paths):  # type: ignore[no-untyped-def]
        found = discover(paths)
        victim.unlink()
        if change != "deleted":
            os.mkfifo(victim)
        return found

    monkeypatch.setattr(pipeline, "discover", discover_then_change)
    report = ingest_within(300, [docs], settings)
    reason = "gone before it could be read" if change == "deleted" else "not a regular file"
    assert by_name(report)["b.md"][0] == "failed" and reason in by_name(report)["b.md"][1]
    assert by_name(report)["a.md"] == ("added", "")

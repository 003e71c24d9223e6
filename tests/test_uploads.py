"""Chat uploads: names cannot leave the archive folder, links are not followed, sizes are limited,
nothing already archived is overwritten, and the files are ingested with per-file results."""

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.app.uploads import ingest_uploads, remove_uploads, safe_name, save_uploads
from assistant.settings import Settings


def upload(tmp_path: Path, name: str, data: bytes) -> tuple[str, Path]:
    """(the name the client sent, the temporary file the web server wrote)."""
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    src = folder / f"{len(list(folder.iterdir()))}.upload"
    src.write_bytes(data)
    return name, src


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd.md", "passwd.md"), ("..\\..\\win.ini.txt", "win.ini.txt"), ("/abs/path/r.pdf", "r.pdf"),
    (".hidden.md", "hidden.md"), ("a b;rm -rf.md", "a b_rm -rf.md"), ("..", "upload"), ("", "upload"),
    ("Rapport été.md", "Rapport été.md"), ("x" * 300 + ".pdf", "x" * 116 + ".pdf")])
def test_names_are_reduced_to_a_plain_base_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_uploads_stay_in_the_archive_folder(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "store", archive_dir=tmp_path / "archive", max_file_mb=0.001)
    outside = tmp_path / "outside.md"
    outside.write_text("precious")
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "link.md").symlink_to(outside)
    saved = save_uploads([upload(tmp_path, "../outside.md", b"# one\n"), upload(tmp_path, "link.md", b"# two\n"),
                          upload(tmp_path, "big.md", b"x" * 2000), upload(tmp_path, "tool.exe", b"MZ")],
                          settings)
    assert outside.read_text() == "precious"  # neither the ../ name nor the link reached it
    assert sorted(p.name for p in saved.paths) == ["link (2).md", "outside.md"]
    assert all(p.parent == (tmp_path / "archive").resolve() for p in saved.paths)
    reasons = dict(saved.refused)
    assert "over the 0.001 MB limit" in reasons["big.md"] and "unsupported file type .exe" in reasons["tool.exe"]
    assert not list((tmp_path / "archive").glob(".upload-*"))  # no temporary files left behind


def test_same_name_other_content_is_kept_beside_and_same_content_is_a_no_op(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "store", archive_dir=tmp_path / "archive")
    first = save_uploads([upload(tmp_path, "note.md", b"first")], settings).paths[0]
    again = save_uploads([upload(tmp_path, "note.md", b"first")], settings)
    other = save_uploads([upload(tmp_path, "note.md", b"second")], settings).paths[0]
    assert again.paths == [first] and not again.created
    assert other.name == "note (2).md" and first.read_bytes() == b"first" and other.read_bytes() == b"second"


def test_uploads_are_ingested_with_per_file_results(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "store", archive_dir=tmp_path / "archive")
    good = b"---\ntitle: Harbour note\ndate: 2024-05-02\n---\n\nThe Kestrel harbour ferry resumed service on 2 May 2024.\n"
    result = ingest_uploads([upload(tmp_path, "harbour.md", good), upload(tmp_path, "broken.pdf", b"not a pdf"),
                             upload(tmp_path, "x.exe", b"MZ")], settings)
    rows = {name: (status, reason) for name, status, reason in result.rows}
    assert rows["harbour.md"] == ("added", "")
    assert rows["broken.pdf"][0] == "failed" and "PDF" in rows["broken.pdf"][1]
    assert rows["x.exe"][0] == "refused"
    assert not result.ok and "1 of 3 file(s) in the archive" in result.summary
    # The failed file is not kept, so that a later sync of the folder does not trip on it again.
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == ["harbour.md"]
    answer = Assistant(settings=settings).ask("When did the Kestrel harbour ferry resume service?")
    assert not answer.refused and answer.citations[0].title == "Harbour note"


def test_removing_uploads_takes_them_out_of_the_store_and_the_archive_folder(tmp_path: Path) -> None:
    from ingest import ingest

    settings = Settings(store=tmp_path / "store", archive_dir=tmp_path / "archive")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "kept.md").write_text("# Kept\n\nThe lighthouse keeper logged the storm on 3 May.\n")
    assert ingest([other], settings).ok
    note = b"# Ferry\n\nThe Kestrel harbour ferry resumed service on 2 May 2024.\n"
    assert ingest_uploads([upload(tmp_path, "ferry.md", note)], settings).ok
    saved, kept = str((tmp_path / "archive" / "ferry.md").resolve()), str((other / "kept.md").resolve())
    result = remove_uploads([saved, kept], settings)
    rows = {name: (status, reason) for name, status, reason in result.rows}
    assert rows["ferry.md"] == ("removed", "") and rows["kept.md"][0] == "refused"
    assert "`assistant remove`" in rows["kept.md"][1] and not result.ok
    assert not (tmp_path / "archive" / "ferry.md").exists() and (other / "kept.md").exists()
    a = Assistant(settings=settings)
    assert [f.path for f in a.files()] == [kept]
    assert a.ask("When did the Kestrel harbour ferry resume service?").refused
    assert not remove_uploads([], settings).ok

"""The write path end to end, with the real model and a real Chroma in a temporary folder."""

from pathlib import Path

import pytest

from assistant.errors import StoreMismatchError
from assistant.index.meta import FILE, TEXT, ChunkMeta
from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest

from pdfgen import write_pdf


def chunks_by_file(settings: Settings) -> dict[str, set[str]]:
    store = Store.open(settings)
    got = store.chunks.get(include=["metadatas"])
    out: dict[str, set[str]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"]):
        out.setdefault(meta[FILE], set()).add(cid)
    return out


def test_chunk_metadata_is_stored_as_it_always_was(archive_copy: Path, settings: Settings) -> None:
    """Stores written before ChunkMeta read back the same: the same keys, empty values left out,
    and every stored record is exactly ChunkMeta.to_metadata() plus the text."""
    assert ingest([archive_copy], settings).ok
    got = Store.open(settings).chunks.get(include=["metadatas"])
    keys = {"file", "path", "doc_id", "title", "date", "date_num", "source", "url", "kind", "doc_hash",
            "page", "chunk", TEXT}
    for meta in got["metadatas"]:
        assert set(meta) <= keys and {"file", "path", "doc_id", "kind", "doc_hash", "chunk", TEXT} <= set(meta)
        assert {**ChunkMeta.from_metadata(meta).to_metadata(), TEXT: meta[TEXT]} == meta
    assert any("date_num" in m and "source" in m for m in got["metadatas"])  # pages: the PDF test below
    assert ChunkMeta("f", "f", "d", title="", source=None, page=None).to_metadata() == \
        {"file": "f", "path": "f", "doc_id": "d", "chunk": 0}
    assert ChunkMeta.from_metadata({}) == ChunkMeta("", "", "")


def test_ingest_then_reingest_embeds_nothing(archive_copy: Path, settings: Settings) -> None:
    first = ingest([archive_copy], settings)
    assert first.ok and first.chunks_embedded > 0
    assert len(first.added) == 12 and first.documents == 16  # briefs.jsonl holds 5 records
    second = ingest([archive_copy], settings)
    assert second.chunks_embedded == 0
    assert len(second.unchanged) == 12 and not second.added and not second.updated
    assert second.chunks_in_store == first.chunks_in_store


def test_changed_file_replaces_its_chunks(archive_copy: Path, settings: Settings) -> None:
    ingest([archive_copy], settings)
    target = next(archive_copy.rglob("*.txt"))
    before = chunks_by_file(settings)
    key = str(target.resolve())
    target.write_text(target.read_text() + "\n\nA new closing paragraph about the harbour ferry strike.\n")
    report = ingest([archive_copy], settings)
    assert [f.path for f in report.updated] == [key]
    after = chunks_by_file(settings)
    assert after[key] and after[key] != before[key]
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
    text = " ".join(c.text for c in Store.open(settings).get(sorted(after[key])).values())
    assert "harbour ferry strike" in text


def test_removed_files_stay_until_pruned(archive_copy: Path, settings: Settings) -> None:
    ingest([archive_copy], settings)
    gone = next(archive_copy.rglob("*.html"))
    key = str(gone.resolve())
    gone.unlink()
    kept = ingest([archive_copy], settings)
    assert [f.path for f in kept.missing] == [key] and key in chunks_by_file(settings)
    pruned = ingest([archive_copy], settings, prune=True)
    assert [f.path for f in pruned.removed] == [key]
    assert key not in chunks_by_file(settings)
    assert key not in Store.open(settings).file_records()


def test_remove_takes_files_and_folders_out_and_a_sync_brings_them_back(archive_copy: Path,
                                                                        settings: Settings) -> None:
    from assistant import Assistant
    from ingest import remove

    first = ingest([archive_copy], settings)
    briefs, reports = archive_copy / "news" / "briefs.jsonl", archive_copy / "reports"
    before = chunks_by_file(settings)
    doomed = {k for k in before if k == str(briefs.resolve()) or k.startswith(str(reports.resolve()) + "/")}
    assert len(doomed) == 6
    report = remove([briefs, reports, archive_copy / "nowhere.md"], settings)
    assert {f.path for f in report.removed} == doomed and sum(f.chunks for f in report.removed) == \
        sum(len(before[k]) for k in doomed)
    assert [(f.path, f.reason) for f in report.failed] == [(str(archive_copy / "nowhere.md"), "not in the store")]
    assert "Removed from" in report.summary() and "6 files" in report.summary() and not report.ok
    assert chunks_by_file(settings) == {k: v for k, v in before.items() if k not in doomed}
    assert set(Store.open(settings).file_records()) == set(before) - doomed
    assert briefs.exists() and reports.is_dir()  # the files stay on disk
    a = Assistant(settings=settings)  # its snapshot no longer holds them either
    assert not {p.path for p in a.search("Inter-Ministerial Task Force on Detention Reform", k=20)} & doomed
    again = ingest([archive_copy], settings)  # ingesting the folder again adds them back
    assert {f.path for f in again.added} == doomed and again.chunks_in_store == first.chunks_in_store
    assert chunks_by_file(settings) == before
    assert not any("removing" in r for r in Store.open(settings).file_records().values())


def test_pdf_chunks_keep_their_page_numbers(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "docs").mkdir()
    write_pdf(tmp_path / "docs" / "r.pdf",
              ["The first page covers the budget.", "The second page covers the detention centres."])
    report = ingest([tmp_path / "docs"], settings)
    assert report.ok
    got = Store.open(settings).everything()
    pages = {m.page: t for m, t in zip(got.metas, got.texts)}
    assert "budget" in pages[1] and "detention" in pages[2]


def test_a_bad_file_fails_alone_and_touches_nothing(archive_copy: Path, settings: Settings) -> None:
    ingest([archive_copy], settings)
    before = chunks_by_file(settings)
    (archive_copy / "empty.md").write_bytes(b"")
    (archive_copy / "binary.txt").write_bytes(b"\x00\xff" * 100)
    (archive_copy / "broken.pdf").write_bytes(b"%PDF-1.7 broken")
    (archive_copy / "notes.xyz").write_text("unknown type")
    good = archive_copy / "news" / "late.md"
    good.write_text("---\ntitle: Late news\n---\n\nThe ferry workers ended their strike on Friday.\n")
    # A previously good file turned bad keeps its stored chunks.
    spoiled = next(archive_copy.rglob("briefs.jsonl"))
    spoiled.write_text("{this is not json\n")
    report = ingest([archive_copy], settings)
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert set(failed) == {"empty.md", "binary.txt", "broken.pdf", "briefs.jsonl"}
    assert "empty" in failed["empty.md"] and "binary" in failed["binary.txt"]
    assert "line 1" in failed["briefs.jsonl"]
    assert [Path(f.path).name for f in report.skipped] == ["notes.xyz"]
    assert [Path(f.path).name for f in report.added] == ["late.md"]
    after = chunks_by_file(settings)
    assert {k: v for k, v in after.items() if not k.endswith("late.md")} == before
    assert not report.ok and "failed" in report.summary()


def test_missing_path_is_reported(tmp_path: Path, settings: Settings) -> None:
    report = ingest([tmp_path / "nope"], settings)
    assert report.failed[0].reason == "no such file or folder"


def test_store_remembers_what_built_it(archive_copy: Path, settings: Settings) -> None:
    ingest([archive_copy / "news"], settings)
    with pytest.raises(StoreMismatchError, match="chunk_tokens=200.*rebuild"):
        ingest([archive_copy / "news"], settings.replace(chunk_tokens=300))


def test_too_large_files_are_refused(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "big.txt").write_text("word " * 300_000)
    report = ingest([tmp_path / "docs"], settings.replace(max_file_mb=1.0))
    assert "over the 1 MB limit" in report.failed[0].reason


def test_a_50_mb_text_file_is_refused_with_its_size(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "docs").mkdir()
    with (tmp_path / "docs" / "huge.txt").open("w") as fh:
        for _ in range(50):
            fh.write(("The committee met again. " * 41943)[: 1 << 20])
    (tmp_path / "docs" / "ok.md").write_text("A small readable note about the harbour.")
    report = ingest([tmp_path / "docs"], settings)
    [failed] = report.failed
    assert failed.path.endswith("huge.txt") and "50 MB, over the 32 MB limit" in failed.reason
    assert [Path(f.path).name for f in report.added] == ["ok.md"]


def test_an_unreadable_file_is_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    """Root reads any file, so as root the ingestion runs in a child process stripped of the
    capabilities that bypass file permissions (util-linux `setpriv`)."""
    import os
    import shutil
    import subprocess
    import sys

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "secret.md").write_text("Classified minutes of the meeting.")
    (docs / "public.md").write_text("The public notice about the meeting.")
    (docs / "secret.md").chmod(0o000)
    code = ("from ingest import ingest; from assistant.settings import Settings; "
            f"r = ingest([{str(docs)!r}], Settings(store={str(tmp_path / 'store')!r})); "
            "print('|'.join(f'{f.status}:{f.path}:{f.reason}' for f in r.files))")
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root's permission override"
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    out = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = dict(line.split(":", 1) for line in out.stdout.strip().splitlines()[-1].split("|"))
    assert results["failed"].endswith("secret.md:permission denied")
    assert results["added"].endswith("public.md:")


@pytest.mark.parametrize("encoder", ["off", "on"])
def test_a_feed_failing_midway_leaves_no_partial_chunks(tmp_path: Path, settings: Settings, encoder: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Large feeds reach the encoder record by record; if one fails after others were stored,
    those are undone and the file's previous chunks stay as they were. With encoder processes
    ("on") batches of the failing file are still being embedded when it fails: they must not
    be stored when they come back."""
    import json

    from ingest import pipeline

    settings = settings.replace(embed_process=encoder)
    feed = tmp_path / "docs" / "feed.jsonl"
    feed.parent.mkdir()
    records = [{"id": f"r{i}", "title": f"Item {i}", "text": f"The harbour report number {i} was filed."}
               for i in range(12)]
    feed.write_text("\n".join(json.dumps(r) for r in records[:3]) + "\n")
    assert ingest([feed.parent], settings).ok
    before = chunks_by_file(settings)
    feed.write_text("\n".join(json.dumps(r) for r in records) + "\n")

    real = pipeline.chunk_document

    def failing(doc, *args, **kwargs):  # a parser bug on a late record, after batches were handed over
        if doc.doc_id == "r10":
            raise RuntimeError("boom")
        return real(doc, *args, **kwargs)

    monkeypatch.setattr(pipeline, "EMBED_BATCH", 2)
    monkeypatch.setattr(pipeline, "chunk_document", failing)
    report = ingest([feed.parent], settings)
    assert [f.reason for f in report.failed] == ["could not parse (RuntimeError: boom)"]
    assert chunks_by_file(settings) == before
    assert Store.open(settings).count() == sum(len(v) for v in before.values())


def test_an_encoder_process_that_dies_fails_the_run_clearly() -> None:
    """A killed encoder process (out of memory, say) ends in a clear error, not a hang."""
    from assistant.errors import AssistantError
    from ingest.encoder import EncoderPool

    pool = EncoderPool("all-MiniLM-L6-v2", "auto", processes=1)
    try:
        assert pool.encode(["a first text", "a second text"], 8).shape == (2, 384)
        pool._children[0].proc.kill()
        pool._children[0].proc.wait()
        futures = [pool.submit(["after the kill"], 8) for _ in range(3)]
        for f in futures:
            with pytest.raises(AssistantError, match="stopped unexpectedly"):
                f.result(timeout=30)
    finally:
        pool.close()


def test_the_encoder_process_builds_the_same_store(archive_copy: Path, tmp_path: Path) -> None:
    """Large runs encode in child processes (ingest/encoder.py): same chunks, same vectors."""
    inline = Settings(store=tmp_path / "inline", embed_process="off")
    child = Settings(store=tmp_path / "child", embed_process="on")
    assert ingest([archive_copy], inline).ok and ingest([archive_copy], child).ok
    a = Store.open(inline).everything()
    b = Store.open(child).everything()
    assert dict(zip(a.ids, a.texts)) == dict(zip(b.ids, b.texts))
    assert dict(zip(a.ids, a.metas)) == dict(zip(b.ids, b.metas))
    va = dict(zip(a.ids, a.vectors))
    cos = [float(va[i] @ v) for i, v in zip(b.ids, b.vectors)]
    assert min(cos) > 0.99
    with pytest.raises(Exception, match="embed_process must be"):
        ingest([archive_copy], Settings(store=tmp_path / "bad", embed_process="maybe"))


def test_texts_are_read_from_stores_that_kept_them_in_chroma_documents(archive_copy: Path,
                                                                       settings: Settings) -> None:
    """Stores written before texts moved to a metadata field hold them in Chroma's documents;
    searches and snapshots read them either way, and new writes leave documents empty."""
    assert ingest([archive_copy], settings).ok
    store = Store.open(settings)
    got = store.chunks.get(include=["documents", "metadatas", "embeddings"])
    assert not any(got["documents"]) and all(m[TEXT] for m in got["metadatas"])
    old = {m.pop(TEXT) for m in got["metadatas"]}
    store.chunks.upsert(ids=got["ids"], embeddings=got["embeddings"],  # None deletes the field
                        metadatas=[{**m, TEXT: None} for m in got["metadatas"]],
                        documents=[f"old {i}" for i in range(len(got["ids"]))])
    store.chunks.update(ids=got["ids"][:1], metadatas=[{**got["metadatas"][0], TEXT: "new"}])
    everything = store.everything()
    assert old and everything.metas[0] == ChunkMeta.from_metadata(got["metadatas"][0])
    texts = dict(zip(everything.ids, everything.texts))
    assert texts[got["ids"][0]] == "new" and texts[got["ids"][1]] == "old 1"
    (cid, chunk), = store.get(got["ids"][1:2]).items()
    assert (cid, chunk.id, chunk.text) == (got["ids"][1], got["ids"][1], "old 1")
    assert chunk.meta.to_metadata() == got["metadatas"][1]  # as stored, less the text


def test_a_store_deleted_and_built_again_in_one_process_is_written_to_disk(archive_copy: Path,
                                                                          settings: Settings) -> None:
    """chromadb keeps a client per path for the process's life: without care, the second build
    is served from the deleted store's memory, finds every file unchanged and writes nothing."""
    import shutil

    first = ingest([archive_copy / "news"], settings)
    shutil.rmtree(settings.store)
    again = ingest([archive_copy / "news"], settings)
    assert len(again.added) == len(first.added) and not again.unchanged
    assert again.chunks_in_store == first.chunks_in_store
    assert (settings.store / "chroma" / "chroma.sqlite3").is_file()
    assert Store.open(settings).count() == first.chunks_in_store

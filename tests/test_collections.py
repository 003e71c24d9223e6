"""Archive collections: every ingested file belongs to one; a reader limited to some never sees
another's text, title, path, date or counts through any read (search, ask, follow-ups, status,
files, facets), and moving a file changes what each reader sees without embedding it again,
finished by the next run when it is cut short."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.errors import ConfigError, QuestionError
from assistant.index.meta import ChunkMeta, check_collection
from assistant.index.search import Filters, SnapshotSearch
from assistant.settings import Settings

ALPHA = """---
title: Alpha field report
date: 2021-03-04
source: Alpha Gazette
---
The alpha secret code is PELICAN-7734. The alpha team met in the northern office to review the harbour survey.
The survey found that the harbour walls need repair before the winter storms arrive.
"""
BRAVO = """---
title: Bravo memo
date: 2024-06-01
source: Bravo Wire
---
The bravo secret code is HERON-5521. The bravo vault is in Lisbon, behind the old customs house.
The bravo team reviewed the harbour survey as well and disagreed with its cost estimate.
"""
# What only b's file holds: none of it may reach a reader of a.
B_SECRETS = ("HERON-5521", "Lisbon", "Bravo memo", "bravo.txt", "Bravo Wire")


def _docs(root: Path) -> tuple[Path, Path]:
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    (root / "a" / "alpha.md").write_text(ALPHA)
    (root / "b" / "bravo.txt").write_text(BRAVO)
    return root / "a", root / "b"


def _two(root: Path) -> tuple[Settings, Path, Path]:
    """A store with alpha in collection a and bravo in collection b."""
    from ingest import ingest

    a, b = _docs(root / "docs")
    settings = Settings(store=root / "store")
    assert ingest([a], settings, collection="a").ok
    assert ingest([b], settings, collection="b").ok
    return settings, a, b


def _text(x: Any) -> str:
    """Everything a reader is shown, as one string."""
    if isinstance(x, list):
        return json.dumps([_text(i) for i in x])
    return json.dumps(x.to_dict() if hasattr(x, "to_dict") else x.__dict__, default=str)


def _leaks(x: Any) -> list[str]:
    shown = _text(x)
    return [s for s in B_SECRETS if s in shown]


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings, _, _ = _two(tmp_path_factory.mktemp("two"))
    return settings


# -- no store needed --------------------------------------------------------------------------

def test_collection_names_are_checked() -> None:
    for good in ("main", "donor-x", "a_b.c", "X" * 64):
        assert check_collection(good) == good
    for bad in ("", "two words", "a/b", "ü", "x" * 65, None, 3):
        with pytest.raises(ConfigError, match="Bad collection name"):
            check_collection(bad)
    from assistant.answering.query import make_filters

    with pytest.raises(QuestionError, match="Bad collection name 'no/slash'"):
        make_filters(collection="no/slash")


def test_bad_names_fail_before_anything_is_written(tmp_path: Path) -> None:
    from assistant.app.cli import main
    from ingest import ingest, move, remove

    settings = Settings(store=tmp_path / "store")
    for call in (lambda: ingest([tmp_path], settings, collection="a b"),
                 lambda: move([tmp_path], "../up", settings), lambda: remove([tmp_path], settings, collection="")):
        with pytest.raises(ConfigError, match="Bad collection name"):
            call()
    assert not (tmp_path / "store").exists()
    assert main(["ingest", str(tmp_path), "--store", str(tmp_path / "store"), "--collection", "a b"]) == 1


def test_chunk_metadata_without_a_collection_reads_as_main() -> None:
    old = {"file": "/x.md", "path": "/x.md", "doc_id": "/x.md", "chunk": 2}
    assert ChunkMeta.from_metadata(old).collection == "main"
    meta = ChunkMeta("/x.md", "/x.md", "/x.md", collection="drafts")
    assert meta.to_metadata()["collection"] == "drafts"
    assert ChunkMeta.from_metadata(meta.to_metadata()) == meta


def test_a_filter_narrows_a_restriction_and_never_widens_it() -> None:
    from assistant.answering.query import make_filters, restrict

    assert restrict(make_filters(), ("a",)).collections == ("a",)
    assert restrict(make_filters(collection=["a", "b"]), ("a",)).collections == ("a",)
    assert restrict(make_filters(collection="b"), ("a",)).collections == ()
    assert restrict(make_filters(collection="b"), None).collections == ("b",)
    assert make_filters(collection=["", " "]).collections is None  # blanks: any, as for sources
    assert Filters(collections=()) and not Filters()  # an empty restriction is a filter: nothing passes


def _snapshot(collections: list[str], dates: list[int]) -> SnapshotSearch:
    from assistant.index.snapshot_build import Rows, assemble, chunk_terms

    n = len(collections)
    metas = [ChunkMeta(f"/f{i}", f"/f{i}", f"/f{i}", date_num=d, source=f"S{c}", kind=f"k{c}", collection=c)
             for i, (c, d) in enumerate(zip(collections, dates))]
    vectors = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"harbour report number {i} of {c}" for i, c in enumerate(collections)]
    return assemble(SnapshotSearch, "g", "store", [f"c{i}" for i in range(n)], Rows.read(metas, vectors),
                    *chunk_terms(texts, metas))


def test_the_snapshot_masks_by_collection() -> None:
    snap = _snapshot(["a", "b", "a", "main"], [20210101, 20240101, 20200101, 0])
    assert snap.mask(Filters(collections=("a",))).tolist() == [True, False, True, False]
    assert snap.mask(Filters(collections=("a", "main", "nowhere"))).tolist() == [True, False, True, True]
    assert not snap.mask(Filters(collections=())).any()
    assert snap.facets(Filters(collections=("a",))) == (["Sa"], ["ka"])
    assert snap.facets() == (["Sa", "Sb", "Smain"], ["ka", "kb", "kmain"])
    assert snap.newest_year == 2024 and snap.newest_year_in(Filters(collections=("a",))) == 2021
    assert snap.newest_year_in(Filters(collections=())) is None
    mask = snap.mask(Filters(collections=("b",)))
    assert [c for c, _ in snap.keyword("harbour report", 10, mask)] == ["c1"]
    assert [c for c, _ in snap.dense(snap.vectors[0], 10, mask)] == ["c1"]


def test_a_snapshot_saved_before_segments_is_not_loaded(tmp_path: Path) -> None:
    """A snapshot in the format before segments (and before collections) is neither loaded nor
    reused, whatever its generation: the store's chunks say which collection each is in."""
    from assistant.index import snapshot_files

    snap = _snapshot(["main", "a"], [0, 0])
    snap.store_id = "store"
    snapshot_files.save(snapshot_files.Parts("g", "store", snap.base, None, None), tmp_path / "snap")
    assert snapshot_files.load(tmp_path / "snap", "g", "store") is not None
    _old_format(tmp_path / "snap", "g")
    assert snapshot_files.load(tmp_path / "snap", "g") is None
    assert snapshot_files.load(tmp_path / "snap", store_id="store") is None


def _old_format(folder: Path, generation: str) -> None:
    """The folder as snapshots were saved before segments: one meta.json over whole-store files."""
    import shutil
    import zlib

    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "vectors.npy").write_bytes(b"")
    meta = {"generation": generation, "collection": "store", "ids": [], "source_names": [], "kind_names": [],
            "files": {"vectors.npy": 0}}
    (folder / "meta.json").write_text(json.dumps({**meta, "check": zlib.crc32(json.dumps(meta, sort_keys=True).encode())}))


# -- a store of two collections (read only) ---------------------------------------------------

@pytest.mark.slow
def test_a_reader_of_a_never_sees_b(two: Settings) -> None:
    from assistant.service import Assistant

    everyone = Assistant(settings=two)
    assert {p.collection for p in everyone.search("secret code")} == {"a", "b"}  # both there to find
    for reader in (Assistant(settings=two, collections=["a"]), everyone.within(["a"]),
                   everyone.within(["a", "nowhere"])):
        found = reader.search("bravo secret code vault Lisbon", k=10)
        assert found and {p.collection for p in found} == {"a"} and not _leaks(found)
        asked = reader.ask("Where is the bravo vault?")
        assert not _leaks(asked) and all(c.collection == "a" for c in asked.citations + asked.related)
        # A follow-up whose history quotes b: the documents it "refers to" are looked for in a only.
        history = [("What is the bravo secret code?", "The bravo secret code is HERON-5521.")]
        follow = reader.ask("Where did they keep it?", history=history)
        assert not [s for s in B_SECRETS if s != "HERON-5521" and s in _text(follow)]
        assert all(c.collection == "a" for c in follow.citations + follow.related)
        assert not _leaks(reader.status()) and not _leaks(reader.files()) and not _leaks(reader.facets())
        assert reader.status().files == 1 and reader.status().chunks == reader.collections()[0].chunks
        assert [c.name for c in reader.collections() if c.files] == ["a"]  # granted but empty: listed, empty
        assert reader.facets().sources == ["Alpha Gazette"] and reader.facets().kinds == ["md"]
        assert [f.collection for f in reader.files()] == ["a"]
    assert [c.name for c in everyone.collections()] == ["a", "b"] and everyone.status().files == 2


@pytest.mark.slow
def test_the_archive_s_newest_year_is_the_reader_s(two: Settings) -> None:
    """The age note compares with the newest document the reader may read: 2024 is b's alone."""
    from assistant.service import Assistant

    everyone = Assistant(settings=two)
    question = "What is the alpha secret code?"
    assert "2024" in (everyone.ask(question).age_note or "")
    answer = everyone.within(["a"]).ask(question)
    assert "PELICAN-7734" in answer.text and answer.age_note is None and not _leaks(answer)


@pytest.mark.slow
def test_a_collection_filter_intersects_the_restriction(two: Settings) -> None:
    from assistant.service import Assistant

    everyone = Assistant(settings=two)
    assert {p.collection for p in everyone.search("secret code", collection="b")} == {"b"}
    assert {p.collection for p in everyone.within(["a", "b"]).search("secret code", collection=["a"])} == {"a"}
    reader = everyone.within(["a"])
    assert reader.search("secret code", collection="b") == []
    assert reader.search("secret code", collection=["a", "b"]) and \
        {p.collection for p in reader.search("secret code", collection=["a", "b"])} == {"a"}
    refused = reader.ask("What is the bravo secret code?", collection="b")
    assert refused.refused and not refused.citations and not refused.related
    assert reader.within(["b"]).search("secret code") == []  # a copy of a copy never widens
    assert reader.within(None) is reader
    with pytest.raises(TypeError):
        everyone.within("a")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        everyone.within(["bad name"])


@pytest.mark.slow
def test_no_collection_at_all_reads_nothing(two: Settings) -> None:
    from assistant.service import Assistant

    nobody = Assistant(settings=two).within([])
    assert nobody.search("secret code") == [] and nobody.search("secret code", collection="a") == []
    answer = nobody.ask("What is the alpha secret code?")
    assert answer.refused and not answer.citations and not answer.related and answer.age_note is None
    assert nobody.status().files == 0 and nobody.status().chunks == 0 and nobody.status().collections == []
    assert nobody.files() == [] and nobody.collections() == [] and nobody.facets().sources == []


@pytest.mark.slow
def test_status_lists_the_collections(two: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.app.cli import main

    assert main(["status", "--store", str(two.store)]) == 0
    out = capsys.readouterr().out
    assert "Collections:\n  a  1 files, 1 documents, 1 chunks\n  b  1 files, 1 documents, 1 chunks" in out
    assert main(["status", "--store", str(two.store), "--files"]) == 0
    table = capsys.readouterr().out.partition("\n\n")[2].splitlines()
    assert "collection" in table[0] and [r.split()[-2] for r in table[1:]] == ["a", "b"]
    assert main(["status", "--store", str(two.store), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in data["collections"]] == ["a", "b"]


# -- moving -----------------------------------------------------------------------------------

def _chunks(settings: Settings) -> dict[str, str]:
    """chunk id -> its collection, as Chroma holds it."""
    from assistant.index.store import Store

    got = Store.open(settings).chunks.get(include=["metadatas"])
    return {c: str(m.get("collection") or "main") for c, m in zip(got["ids"], got["metadatas"])}


def _no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.index.embedding import Embedder

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a move embedded something")

    monkeypatch.setattr(Embedder, "encode", refuse)


@pytest.mark.slow
def test_move_changes_what_each_reader_sees_without_embedding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.app.cli import main
    from assistant.service import Assistant

    settings, _, b = _two(tmp_path)
    everyone = Assistant(settings=settings)
    reader_a, reader_b = everyone.within(["a"]), everyone.within(["b"])
    assert "HERON-5521" not in _text(reader_a.search("bravo secret code"))  # the snapshot is loaded now
    before = _chunks(settings)
    _no_embedding(monkeypatch)
    assert main(["move", str(b), "--collection", "a", "--store", str(settings.store)]) == 0
    assert "Moved into the collection 'a'" in capsys.readouterr().out
    after = _chunks(settings)
    assert after.keys() == before.keys() and set(after.values()) == {"a"}  # the same chunks, moved
    everyone.retriever.recheck()  # an ingestion in another process: seen at the next look
    assert "HERON-5521" in _text(reader_a.search("bravo secret code"))
    assert reader_b.search("bravo secret code") == [] and reader_b.files() == []
    assert [f.collection for f in reader_a.files()] == ["a", "a"]
    assert everyone.retriever.snapshot.collection_names == ["a"]


@pytest.mark.slow
def test_reingesting_into_another_collection_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import ingest

    settings, _, b = _two(tmp_path)
    before = _chunks(settings)
    with monkeypatch.context() as m:
        _no_embedding(m)
        report = ingest([b], settings, collection="a")
    assert [f.status for f in report.files] == ["moved"] and report.chunks_embedded == 0, report.summary()
    assert _chunks(settings) == dict.fromkeys(before, "a")
    again = ingest([b], settings)  # no collection named: each file stays where it is
    assert [f.status for f in again.files] == ["unchanged"] and set(_chunks(settings).values()) == {"a"}
    (b / "bravo.txt").write_text(BRAVO + "\nA new closing line.\n")
    changed = ingest([b], settings, collection="c")
    assert [f.status for f in changed.files] == ["updated"]
    assert sorted(_chunks(settings).values()) == ["a", "c"] and len(_chunks(settings)) == 2  # no duplicate


@pytest.mark.slow
def test_a_feed_s_unchanged_records_move_with_it(tmp_path: Path) -> None:
    """Chunks kept from before (a feed's unchanged records) go to the new collection too."""
    from ingest import ingest

    feed = tmp_path / "feed.jsonl"
    rows = [{"id": f"r{i}", "title": f"Record {i}", "text": f"Record {i} says the harbour is open, item {i}."}
            for i in range(3)]
    feed.write_text("\n".join(json.dumps(r) for r in rows))
    settings = Settings(store=tmp_path / "store")
    assert ingest([feed], settings, collection="a").ok
    rows[0]["text"] = "Record 0 now says the harbour is closed."
    feed.write_text("\n".join(json.dumps(r) for r in rows))
    report = ingest([feed], settings, collection="b")
    assert [f.status for f in report.files] == ["updated"] and report.chunks_embedded == 1, report.summary()
    assert set(_chunks(settings).values()) == {"b"} and len(_chunks(settings)) == 3


def _kill_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next set_collection changes half of its chunks, then the run dies."""
    from assistant.index.store import Store

    original = Store.set_collection

    def half(self: Store, ids: list[str], collection: str) -> None:
        original(self, ids[: len(ids) // 2], collection)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Store, "set_collection", half)


def _long_file(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "long.md"
    path.write_text("# The long report\n\n" + "\n\n".join(
        f"Paragraph {i} records that harbour inspection number {i} found {i * 7} cracked stones in "
        f"section {i % 9} of the eastern wall, and that the crew of shift {i} repaired {i * 3} of them "
        f"before the tide came in on day {i}." for i in range(120)))
    return path


@pytest.mark.slow
def test_a_move_killed_half_way_is_finished_by_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.index.manifest import MOVING
    from assistant.index.snapshot import Snapshot
    from assistant.index.store import Store
    from ingest import ingest, move

    settings, a, _ = _two(tmp_path)
    long = _long_file(tmp_path / "docs" / "long")
    assert ingest([long], settings, collection="a").ok
    key = str(long.resolve())
    ids = Store.open(settings).ids_for_file(key)
    assert len(ids) > 4
    for run in ("ingest", "move"):  # a killed move finished by an ingestion, then the other way round
        target = "b" if run == "ingest" else "a"
        with monkeypatch.context() as m:
            _kill_half_way(m)
            with pytest.raises(KeyboardInterrupt):
                move([long], target, settings) if run == "ingest" else ingest([long], settings, collection=target)
        store = Store.open(settings)
        record = store.file_records()[key]
        assert record[MOVING] and record["collection"] == target  # the target, marked, before any chunk
        held = _chunks(settings)
        assert sorted({held[c] for c in ids if c in held}) == ["a", "b"]  # half moved
        # A reader's refresh in between sees each chunk where Chroma has it.
        snap = Snapshot.refresh(store)
        assert {c: snap.collection_names[int(snap.collections[snap._row[c]])] for c in held} == held
        # The next run, of anything, finishes it.
        report = ingest([a], settings) if run == "ingest" else move([a], "a", settings)
        assert any(f.status == "moved" and f.path == key for f in report.files), report.summary()
        assert {_chunks(settings)[c] for c in ids} == {target}
        assert MOVING not in Store.open(settings).file_records()[key]
        snap = Snapshot.load(Store.open(settings))
        assert {snap.collection_names[int(snap.collections[snap._row[c]])] for c in ids} == {target}


@pytest.mark.slow
def test_a_sync_of_one_collection_never_removes_another_s_files(tmp_path: Path) -> None:
    from ingest import ingest, remove

    root = tmp_path / "docs"
    root.mkdir()
    (root / "x.md").write_text("The x note says the ferry leaves at noon.")
    (root / "y.md").write_text("The y note says the ferry leaves at dawn.")
    settings = Settings(store=tmp_path / "store")
    assert ingest([root / "x.md"], settings, collection="a").ok
    assert ingest([root / "y.md"], settings, collection="b").ok
    (root / "x.md").unlink()
    (root / "y.md").unlink()
    synced = ingest([root], settings, prune=True, collection="a")
    assert [(Path(f.path).name, f.status) for f in synced.files] == [("x.md", "removed")], synced.summary()
    assert [Path(k).name for k in _records(settings)] == ["y.md"]
    refused = remove([root], settings, collection="a")
    assert [f.reason for f in refused.failed] == ["not in the collection 'a'"]
    assert [Path(f.path).name for f in remove([root], settings, collection="b").removed] == ["y.md"]


def _records(settings: Settings) -> dict[str, dict[str, Any]]:
    from assistant.index.store import Store

    return Store.open(settings).ingested()


@pytest.mark.slow
def test_a_store_written_before_collections_reads_as_main(tmp_path: Path) -> None:
    """Chunks and records without a collection, and a snapshot saved before collections: all
    main, and a move out of main is seen."""
    from assistant.index.snapshot import Snapshot
    from assistant.index.store import Store
    from assistant.service import Assistant
    from ingest import move

    settings, a, b = _two(tmp_path)
    store = Store.open(settings)
    ids = store.all_ids()
    store.chunks.update(ids=ids, metadatas=[{"collection": None}] * len(ids))  # None deletes the field
    records = store.file_records()
    store.files.upsert(ids=list(records), embeddings=[[1.0]] * len(records),
                       metadatas=[{"collection": None}] * len(records))
    store.bump_generation()
    Snapshot.rebuild(store)
    _old_format(Snapshot.folder(store), store.generation)
    assert all("collection" not in m for m in store.chunks.get(include=["metadatas"])["metadatas"])
    everyone = Assistant(settings=settings)
    assert [(c.name, c.files) for c in everyone.collections()] == [("main", 2)]
    assert {p.collection for p in everyone.within(["main"]).search("secret code")} == {"main"}
    assert everyone.within(["a"]).search("secret code") == []
    assert move([b], "b", settings).ok
    everyone.retriever.recheck()
    assert {p.collection for p in everyone.search("bravo secret code")} == {"main", "b"}
    assert {p.collection for p in everyone.within(["b"]).search("secret code")} == {"b"}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))

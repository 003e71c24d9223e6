"""Damaged stores: a store built with another embedding model, or whose Chroma database was
truncated, garbled or deleted, gives a clear StoreError (one `Error:` line from the CLI); one
whose derived data was (Chroma's vector index, which a killed write can cut short, and the
snapshot) is repaired, and answers as before. Never a wrong answer.

Chroma keeps a small collection in its log and writes the HNSW index files only past about
1,000 records, so the damage cases run on the sample archive plus 1,000 filler chunks (random
unit vectors, nonsense words: nothing a question can match), which makes Chroma write them.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, StoreError, StoreMismatchError
from assistant.index import snapshot_files
from assistant.index.meta import ChunkMeta
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest

QUESTION = "Who chairs the Inter-Ministerial Task Force on Detention Reform?"
FILLERS = 1000


@pytest.fixture(scope="module")
def big_store(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("big") / "store"
    shutil.copytree(sample_store, store)
    s = Store.open(Settings(store=store))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(FILLERS, s.info["embed_dim"])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    s.bump_generation()
    s.upsert([f"filler-{i}" for i in range(FILLERS)], vectors, [f"zq{i} xv{i} wq{i}" for i in range(FILLERS)],
             [ChunkMeta("/filler", "/filler", f"filler-{i}", title=f"Zq {i}", kind="txt", chunk=i)
              for i in range(FILLERS)])
    Snapshot.rebuild(s)
    assert any(_hnsw_count(seg) > 0 for seg in _segments(store)), "Chroma wrote no HNSW index"
    return store


def _segments(store: Path) -> list[Path]:
    return sorted(p for p in (store / "chroma").iterdir() if (p / "header.bin").is_file())


def _hnsw_count(segment: Path) -> int:
    return int(struct.unpack_from("<4Q", (segment / "header.bin").read_bytes(), 4)[2])


def _index(store: Path) -> Path:
    """The chunks' HNSW segment: the one holding the most elements."""
    return max(_segments(store), key=_hnsw_count)


@pytest.fixture(scope="module")
def healthy(big_store: Path) -> dict:
    a = Assistant(store=big_store)
    answer = a.ask(QUESTION)
    assert not answer.refused and any(c.doc_id == "b04" for c in answer.citations)
    return {"answer": answer.to_dict(), "since": a.ask(QUESTION, since="2020").to_dict(),
            "search": [(p.id, round(p.score, 5)) for p in a.search(QUESTION, k=10)]}


def truncate(path: Path, fraction: float) -> None:
    with path.open("r+b") as fh:
        fh.truncate(int(path.stat().st_size * fraction))


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def garble_links(segment: Path) -> None:
    """Level-0 link lists of the first elements become 0xFF: counts and ids out of range
    (without the check, hnswlib follows them and the process dies of a segmentation fault)."""
    per_element = struct.unpack_from("<4Q", (segment / "header.bin").read_bytes(), 4)[3]
    for i in range(20):
        overwrite(segment / "data_level0.bin", i * per_element, b"\xff" * 64)


DATABASE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "database emptied": lambda s: truncate(s / "chroma" / "chroma.sqlite3", 0),
    "database deleted": lambda s: (s / "chroma" / "chroma.sqlite3").unlink(),
    "database truncated": lambda s: truncate(s / "chroma" / "chroma.sqlite3", 0.5),
    "database header garbled": lambda s: overwrite(s / "chroma" / "chroma.sqlite3", 0, b"\xa5" * 100),
}
INDEX_DAMAGE: dict[str, Callable[[Path], None]] = {
    "index data truncated": lambda s: truncate(_index(s) / "data_level0.bin", 0.3),
    "index links garbled": lambda s: garble_links(_index(s)),
    "index lengths emptied": lambda s: truncate(_index(s) / "length.bin", 0),
    "index header garbled": lambda s: overwrite(_index(s) / "header.bin", 0, b"\x5a" * 100),
    "index id map emptied": lambda s: truncate(_index(s) / "index_metadata.pickle", 0),
    "index id map cut short": lambda s: truncate(_index(s) / "index_metadata.pickle", 0.6),
    "index folder deleted": lambda s: shutil.rmtree(_index(s)),
}


def snap(store: Path) -> Path:
    return store / "snapshot"


def base(store: Path) -> Path:
    """The snapshot's base segment's folder."""
    return snap(store) / json.loads((snap(store) / "meta.json").read_text())["base"]


SNAPSHOT_DAMAGE: dict[str, Callable[[Path], None]] = {
    "meta deleted": lambda s: (snap(s) / "meta.json").unlink(),
    "meta truncated": lambda s: truncate(snap(s) / "meta.json", 0.5),
    "vectors garbled": lambda s: overwrite(base(s) / "vectors.npy", 4096, b"\x00" * 8192),
    "vectors truncated": lambda s: truncate(base(s) / "vectors.npy", 0.5),
    "keyword counts garbled": lambda s: overwrite(base(s) / "postings.npz", 512, b"\x7f" * 256),
    "columns deleted": lambda s: (base(s) / "columns.npz").unlink(),
    "segment meta garbled": lambda s: overwrite(base(s) / "meta.json", 2, b"9"),
    "base segment deleted": lambda s: shutil.rmtree(base(s)),
    "folder deleted": lambda s: shutil.rmtree(snap(s)),
}


def damaged_copy(big_store: Path, tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    store = tmp_path / "store"
    shutil.copytree(big_store, store)
    damage(store)
    return store


@pytest.mark.parametrize("case", DATABASE_DAMAGE)
def test_a_damaged_database_is_a_clear_error(big_store: Path, healthy: dict, tmp_path: Path, case: str) -> None:
    store = damaged_copy(big_store, tmp_path, DATABASE_DAMAGE[case])
    with pytest.raises(StoreError, match=r"damaged.*Rebuild it") as error:
        Assistant(store=store).ask(QUESTION)
    assert str(store) in str(error.value)
    with pytest.raises(StoreError, match="damaged"):  # ingestion refuses to write into it, too
        ingest([tmp_path / "nothing-here"], Settings(store=store))


def stored_vectors(store: Path) -> dict[str, np.ndarray]:
    got = Store.open(Settings(store=store)).everything()
    return dict(zip(got.ids, got.vectors))


def finds_itself(store: Path) -> float:
    """The share of chunks that Chroma's index returns first for their own vector."""
    s = Store.open(Settings(store=store))
    got = s.everything()
    return float(np.mean([s.query(v, 1)[0][0] == cid for cid, v in zip(got.ids, got.vectors)]))


@pytest.mark.parametrize("case", INDEX_DAMAGE)
def test_a_damaged_vector_index_is_repaired_and_answers_stay_right(big_store: Path, healthy: dict, tmp_path: Path,
                                                                   case: str, capfd: pytest.CaptureFixture) -> None:
    store = damaged_copy(big_store, tmp_path, INDEX_DAMAGE[case])
    a = Assistant(store=store)
    assert "Repaired: " in capfd.readouterr().err
    assert a.ask(QUESTION).to_dict() == healthy["answer"]
    assert a.ask(QUESTION, since="2020").to_dict() == healthy["since"]
    assert [(p.id, round(p.score, 5)) for p in a.search(QUESTION, k=10)] == healthy["search"]
    assert finds_itself(store) > 0.99
    want, got = stored_vectors(big_store), stored_vectors(store)
    assert got.keys() == want.keys() and all(np.allclose(got[c], want[c], atol=1e-6) for c in want)  # the snapshot's
    assert not (store / "repairing.json").exists() and Store.open(Settings(store=store)).count() == len(want)


def test_ingestion_repairs_a_damaged_index_before_writing(big_store: Path, tmp_path: Path) -> None:
    store = damaged_copy(big_store, tmp_path, INDEX_DAMAGE["index id map emptied"])
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "new.md").write_text("A new note about the harbour ferry strike in Sennport.")
    report = ingest([tmp_path / "docs"], Settings(store=store))
    assert report.chunks_in_store == Store.open(Settings(store=big_store)).count() + 1
    assert finds_itself(store) > 0.99


@pytest.mark.parametrize("told_by", ["the repair's mark", "the recorded chunk"])
def test_an_index_lacking_some_chunks_is_found_and_repaired(big_store: Path, tmp_path: Path, told_by: str) -> None:
    """An index that lacks 20 chunks from the middle of the store (a repair killed half way, or
    writes lost) still finds the first chunks of the store, which opening it probes; the
    repair's mark says it is not whole, or the chunk the last writer recorded (`probe`, its
    newest: here one of the 20) does."""
    import chromadb

    store = damaged_copy(big_store, tmp_path, INDEX_DAMAGE["index folder deleted"])
    got = Store.open(Settings(store=big_store)).everything()  # in storage order
    middle = len(got) // 2
    lost = slice(middle - 20, middle)
    kept = [i for i in range(len(got)) if not middle - 20 <= i < middle]
    raw = chromadb.PersistentClient(path=str(store / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    chunks = raw.get_collection("chunks")
    # Deleting the index folder left Chroma its log, which holds the newest records: those back first.
    chunks.upsert(ids=[got.ids[i] for i in kept], embeddings=got.vectors[kept])
    if told_by == "the repair's mark":
        (store / "repairing.json").write_text(json.dumps({"collections": ["chunks"], "since": 0}))
    else:
        meta = {k: v for k, v in (chunks.metadata or {}).items() if not k.startswith("hnsw:")}
        chunks.modify(metadata={**meta, "probe": got.ids[middle - 1]})
    del raw, chunks
    s = Store.open(Settings(store=store))
    assert not (store / "repairing.json").exists()
    assert all(s.query(v, 1)[0][0] == cid for cid, v in zip(got.ids[lost], got.vectors[lost]))
    assert finds_itself(store) > 0.99


def test_a_writer_records_its_newest_chunk_for_the_check(big_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(big_store, store)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "new.md").write_text("A new note about the harbour ferry strike in Sennport.")
    ingest([tmp_path / "docs"], Settings(store=store))
    s = Store.open(Settings(store=store))
    assert s.get([s.info["probe"]])[s.info["probe"]].meta.file.endswith("new.md")


def test_no_repair_while_another_thread_of_the_process_writes(big_store: Path, tmp_path: Path) -> None:
    """The chat ingesting an upload holds the write lock in one thread: a request in another that
    finds the index mid-write must not take it for damage and delete it under the writer."""
    import threading

    from assistant.errors import StoreBusyError
    from assistant.index.locks import writing

    store = damaged_copy(big_store, tmp_path, INDEX_DAMAGE["index id map emptied"])
    settings = Settings(store=store)
    before = sorted(p.name for p in (store / "chroma").iterdir())
    held, done = threading.Event(), threading.Event()

    def ingesting() -> None:
        with writing(settings, "an ingestion"):
            held.set()
            done.wait(60)

    thread = threading.Thread(target=ingesting)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(StoreBusyError, match="Another thread"):
            Store.open(settings)
        assert sorted(p.name for p in (store / "chroma").iterdir()) == before
        assert not (store / "repairing.json").exists()
    finally:
        done.set()
        thread.join()
    assert finds_itself(store) > 0.99  # the writer gone, the next open repairs


def test_without_a_snapshot_the_repair_embeds_the_chunks_again(big_store: Path, healthy: dict, tmp_path: Path,
                                                               capfd: pytest.CaptureFixture) -> None:
    store = damaged_copy(big_store, tmp_path, INDEX_DAMAGE["index id map emptied"])
    shutil.rmtree(snap(store))
    answer = Assistant(store=store).ask(QUESTION)
    assert "0 from the keyword snapshot" in capfd.readouterr().err
    assert answer.text == healthy["answer"]["answer"]
    assert [c.doc_id for c in answer.citations] == [c["doc_id"] for c in healthy["answer"]["citations"]]
    want, got = stored_vectors(big_store), stored_vectors(store)
    sample = [c for c in want if not c.startswith("filler-")]  # the fillers' vectors were random
    assert min(float(np.dot(want[c], got[c])) for c in sample) > 0.99
    assert finds_itself(store) > 0.99


@pytest.mark.parametrize("case", SNAPSHOT_DAMAGE)
def test_a_damaged_snapshot_is_rebuilt_and_answers_stay_right(big_store: Path, healthy: dict, tmp_path: Path,
                                                              case: str) -> None:
    store = damaged_copy(big_store, tmp_path, SNAPSHOT_DAMAGE[case])
    a = Assistant(store=store)
    # Filtered search runs on the snapshot's vectors, hybrid search on its keyword index.
    assert a.ask(QUESTION, since="2020").to_dict() == healthy["since"]
    assert a.ask(QUESTION).to_dict() == healthy["answer"]
    assert [(p.id, round(p.score, 5)) for p in a.search(QUESTION, k=10)] == healthy["search"]
    assert snapshot_files.load(snap(store)) is not None


def test_the_snapshot_checksums_catch_a_changed_file(big_store: Path, tmp_path: Path) -> None:
    store = damaged_copy(big_store, tmp_path, SNAPSHOT_DAMAGE["keyword counts garbled"])
    assert snapshot_files.load(snap(store)) is None


def relabel(store: Path, model: str) -> None:
    """What a store built by another embedding model records (only one ships with the project)."""
    import chromadb

    client = chromadb.PersistentClient(path=str(store / "chroma"),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    chunks = client.get_collection("chunks")
    meta = {k: v for k, v in (chunks.metadata or {}).items() if not k.startswith("hnsw:")}
    chunks.modify(metadata={**meta, "embed_model": model})


def test_a_store_built_with_another_model_is_refused_for_reading_and_writing(sample_store: Path,
                                                                            tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    before = Store.open(Settings(store=store))
    chunks, files = before.count(), before.file_records()
    relabel(store, "paraphrase-multilingual-MiniLM-L12-v2")
    with pytest.raises(StoreMismatchError, match=r"embedding model 'paraphrase-multilingual-MiniLM-L12-v2'.*"
                                                 r"you asked for 'all-MiniLM-L6-v2'.*new --store"):
        Assistant(store=store)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "new.md").write_text("A new note about the harbour ferry strike in Sennport.")
    with pytest.raises(StoreMismatchError, match="embed_model = .*new --store"):
        ingest([tmp_path / "docs"], Settings(store=store))
    relabel(store, "all-MiniLM-L6-v2")  # nothing was written
    after = Store.open(Settings(store=store))
    assert after.count() == chunks and after.file_records() == files


# -- the command line: one `Error:` line, or the same answer ----------------------------------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "RUST_BACKTRACE": "0"})


def one_error_line(out: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout == "" and out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr
    for phrase in phrases:
        assert phrase in out.stderr


@pytest.mark.parametrize("case", ["database truncated", "database header garbled"])
def test_cli_reports_a_damaged_store_in_one_line(big_store: Path, tmp_path: Path, case: str) -> None:
    store = damaged_copy(big_store, tmp_path, DATABASE_DAMAGE[case])
    one_error_line(cli("ask", QUESTION, "--store", str(store)), "damaged", str(store), "Rebuild it")


def test_cli_repairs_a_damaged_index_and_answers(big_store: Path, healthy: dict, tmp_path: Path) -> None:
    store = damaged_copy(big_store, tmp_path, INDEX_DAMAGE["index links garbled"])
    out = cli("ask", QUESTION, "--store", str(store), "--json")
    assert out.returncode == 0, out.stderr
    assert "Repairing the vector index" in out.stderr and "Traceback" not in out.stderr
    assert json.loads(out.stdout)["answer"] == healthy["answer"]["answer"]


def test_cli_answers_right_after_a_damaged_snapshot(big_store: Path, healthy: dict, tmp_path: Path) -> None:
    store = damaged_copy(big_store, tmp_path, SNAPSHOT_DAMAGE["vectors garbled"])
    out = cli("ask", QUESTION, "--since", "2020", "--store", str(store), "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert (got["answer"], got["citations"]) == (healthy["since"]["answer"], healthy["since"]["citations"])


def test_cli_refuses_a_store_built_with_another_model(sample_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    relabel(store, "another-model")
    one_error_line(cli("ask", QUESTION, "--store", str(store)), "embed_model = 'another-model'", "new --store")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "new.md").write_text("A new note about the harbour ferry strike in Sennport.")
    one_error_line(cli("ingest", str(tmp_path / "docs"), "--store", str(store), "-q"),
                   "embed_model = 'another-model'", "new --store")

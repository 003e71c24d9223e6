"""The keyword-and-vector snapshot after a change: refreshed from the chunks that changed, and
equal to one rebuilt from the whole store. Real model, real Chroma."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ingest.pipeline as ingest_pipeline
from assistant import Assistant
from assistant.index.embedding import load_embedder
from assistant.index.models import DEFAULT
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest

QUERIES = ["OHCHR report rejection", "Special Rapporteur visit Sennport", "press freedom journalists",
           "detention reform task force", "harbour ferry strike", "no such words zqxv"]
TERMS = ["ohchr", "sennport", "harbour", "ferri", "zqxv"]  # stemmed, as the index keeps them


def assert_same(a: Snapshot, b: Snapshot) -> None:
    """Same chunks in the same order, same columns and vectors, same keyword scores."""
    assert a.ids == b.ids
    for column in ("dates", "sources", "kinds", "docs", "positions", "pages"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column
    assert (a.source_names, a.kind_names) == (b.source_names, b.kind_names)
    assert np.array_equal(np.asarray(a.vectors), np.asarray(b.vectors))
    for query in QUERIES:
        got, want = a.keyword(query, 50), b.keyword(query, 50)
        assert [(c, round(s, 5)) for c, s in got] == [(c, round(s, 5)) for c, s in want], query
        assert [round(a.coverage(query, c), 9) for c in a.ids] == [round(b.coverage(query, c), 9) for c in b.ids]
    assert [a.idf(t) for t in TERMS] == pytest.approx([b.idf(t) for t in TERMS], abs=1e-12)


def test_refresh_reads_only_the_chunks_it_lacks_and_equals_a_rebuild(archive_copy: Path, settings: Settings,
                                                                     tmp_path: Path) -> None:
    ingest([archive_copy / "news", archive_copy / "reports"], settings)
    store = Store.open(settings)
    before = set(store.all_ids())
    old = tmp_path / "old-snapshot"
    shutil.copytree(settings.store / "snapshot", old)
    changed = next((archive_copy / "news").glob("*.md"))
    changed.write_text(changed.read_text() + "\n\nA closing paragraph about the harbour ferry strike.\n")
    next((archive_copy / "reports").iterdir()).unlink()
    ingest([archive_copy], settings, prune=True)
    after = set(store.all_ids())
    assert before - after and after - before  # chunks removed, chunks added
    # The store changed behind the snapshot's back (as after a killed ingestion):
    shutil.rmtree(settings.store / "snapshot")
    shutil.copytree(old, settings.store / "snapshot")

    fresh = Snapshot.refresh(store)
    assert fresh.reused == len(before & after)
    assert_same(fresh, Snapshot.rebuild(store))


def test_ingestion_saves_a_refreshed_snapshot_equal_to_a_rebuild(archive_copy: Path, settings: Settings) -> None:
    ingest([archive_copy / "news", archive_copy / "reports"], settings)
    store = Store.open(settings)
    kept = set(store.all_ids())
    target = next((archive_copy / "news").glob("*.md"))
    target.write_text(target.read_text() + "\n\nA closing paragraph about the harbour ferry strike.\n")
    saved = {}
    original = Snapshot.refresh.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Snapshot], s: Store) -> Snapshot:
        saved["snap"] = original(cls, s)
        return saved["snap"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Snapshot, "refresh", classmethod(spy))
        report = ingest([archive_copy], settings, prune=True)
    assert report.ok and report.added and report.updated
    now = set(store.all_ids())
    assert 0 < saved["snap"].reused == len(kept & now) < len(now)  # reused what stayed, read the rest
    saved_meta = json.loads((settings.store / "snapshot" / "meta.json").read_text())
    assert saved_meta["generation"] == store.refresh_generation()  # current: readers load it as it is
    assert_same(Snapshot.load(store), Snapshot.rebuild(store))


def test_a_snapshot_lacking_most_of_the_store_is_rebuilt_instead(archive_copy: Path, settings: Settings,
                                                                tmp_path: Path) -> None:
    """Reading chunks by id costs more a chunk than reading the whole store in pages."""
    first = ingest([archive_copy / "news"], settings).chunks_in_store
    old = tmp_path / "old-snapshot"
    shutil.copytree(settings.store / "snapshot", old)
    ingest([archive_copy], settings)
    store = Store.open(settings)
    assert first < store.count() / 2
    shutil.rmtree(settings.store / "snapshot")
    shutil.copytree(old, settings.store / "snapshot")
    fresh = Snapshot.refresh(store)
    assert fresh.reused == 0 and len(fresh.ids) == store.count()
    assert_same(fresh, Snapshot.rebuild(store))


def test_a_snapshot_of_an_empty_store_is_refreshed_when_documents_arrive(archive_copy: Path,
                                                                         settings: Settings) -> None:
    """The chat started on a new store saves an empty snapshot; the first upload refreshes it."""
    empty = Snapshot.refresh(Store.create(settings, 384))
    assert empty.ids == [] and (settings.store / "snapshot" / "terms.npz").is_file()
    ingest([archive_copy / "news"], settings)
    store = Store.open(settings)
    assert Snapshot.load(store).ids and store.count() == len(Snapshot.load(store).ids)
    assert_same(Snapshot.load(store), Snapshot.rebuild(store))
    # Pruned to nothing, then filled again.
    shutil.rmtree(archive_copy / "news")
    (archive_copy / "news").mkdir()
    ingest([archive_copy / "news"], settings, prune=True)
    assert store.count() == 0 and Snapshot.load(store).ids == []
    ingest([archive_copy / "reports"], settings)
    assert_same(Snapshot.load(store), Snapshot.rebuild(store))


def test_a_snapshot_of_another_collection_is_not_reused(archive_copy: Path, tmp_path: Path) -> None:
    """A Chroma server's collection deleted and made again keeps its name, and so the cache
    folder of its snapshot: chunk ids of the same files match, their vectors need not."""
    first, second = Settings(store=tmp_path / "first"), Settings(store=tmp_path / "second")
    ingest([archive_copy], first)
    ingest([archive_copy / "news"], second)
    shutil.rmtree(second.store / "snapshot")
    shutil.copytree(first.store / "snapshot", second.store / "snapshot")
    store = Store.open(second)
    assert set(store.all_ids()) < set(Store.open(first).all_ids())  # same ids, another collection
    fresh = Snapshot.refresh(store)
    assert fresh.reused == 0
    assert_same(fresh, Snapshot.rebuild(store))


def test_a_reader_that_reloads_during_an_ingestion_sees_all_of_it_afterwards(
        archive_copy: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest([archive_copy / "news"], settings)
    reader = Assistant(store=settings.store)
    reader.search("press freedom")
    upsert = Store.upsert

    def upsert_then_read(self: Store, *args: object, **kwargs: object) -> None:
        upsert(self, *args, **kwargs)  # type: ignore[arg-type]
        reader.retriever.recheck()  # as the chat does: a question while an upload is ingested
        reader.search("press freedom")

    monkeypatch.setattr(Store, "upsert", upsert_then_read)
    monkeypatch.setattr(ingest_pipeline, "EMBED_BATCH", 8)  # several writes, so reads fall between them
    ingest([archive_copy], settings)
    monkeypatch.undo()
    reader.retriever.recheck()
    assert sorted(reader.retriever.snapshot.ids) == sorted(Store.open(settings).all_ids())


def test_the_keyword_index_is_the_one_bm25s_builds_bit_for_bit() -> None:
    """assistant.index.keyword.bm25_index builds in NumPy what bm25s builds chunk by chunk: the same
    score matrix to the bit, on the sample archive's paragraphs and on 4,000 synthetic chunks
    with Zipf-distributed terms (repeats, rare terms, empty chunks)."""
    import bm25s
    from bm25s.tokenization import Tokenized

    from assistant.index.keyword import bm25_index, tokenize

    root = Path(__file__).resolve().parents[1] / "examples" / "archive"
    paragraphs = [p for f in sorted(root.rglob("*")) if f.suffix in (".md", ".txt", ".html")
                  for p in f.read_text().split("\n\n") if p.strip()]
    tokens = tokenize(paragraphs + [""])
    sample = ([np.asarray(ids, dtype=np.int32) for ids in tokens.ids],
              [t for t, _ in sorted(tokens.vocab.items(), key=lambda item: item[1])])
    rng = np.random.default_rng(5)
    size = 3000
    zipf = [np.minimum(rng.zipf(1.3, rng.integers(0, 300)), size) - 1 for _ in range(4000)]
    synthetic = ([z.astype(np.int32) for z in zipf], [f"t{i}" for i in range(size)])
    for terms, vocab in (sample, synthetic):
        ours = bm25_index(terms, vocab)
        theirs = bm25s.BM25()
        theirs.index(Tokenized(ids=[t.tolist() for t in terms], vocab={v: i for i, v in enumerate(vocab)}),
                     show_progress=False)
        for key in ("data", "indices", "indptr"):
            assert ours.scores[key].dtype == theirs.scores[key].dtype, key
            assert np.array_equal(ours.scores[key], theirs.scores[key]), key
        assert ours.scores["num_docs"] == theirs.scores["num_docs"] and ours.vocab_dict == theirs.vocab_dict
        assert len(paragraphs) > 50 and np.count_nonzero(ours.scores["data"]) > 1000


def _mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isdigit() or line[:1] in "abcdef" and "-" in line.split()[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").is_file(), reason="Linux's /proc only")
def test_after_the_bf16_copy_the_float32_vectors_leave_memory(sample_store: Path) -> None:
    """The memory-mapped float32 vectors serve only rescoring once the bf16 copy exists: their
    pages are dropped from the process after each use (1.5 GB of the reader at 1M chunks)."""
    snap = Snapshot.load(Store.open(Settings(store=sample_store)))
    path = (sample_store / "snapshot" / "vectors.npy").resolve()
    np.asarray(snap.vectors[: len(snap.ids)]).sum()  # every page touched, as building the copy does
    assert _mapped_kb(path) > 0
    vector = load_embedder(DEFAULT).encode_query("Why did Marvala reject the OHCHR report?")
    hits = snap.dense(vector, 10)
    assert _mapped_kb(path) == 0 and len(hits) == 10
    assert snap.dense(vector, 10) == hits  # read back from the file's cache when needed


def test_a_local_store_lists_its_ids_in_one_call_in_storage_order(sample_store: Path) -> None:
    store = Store.open(Settings(store=sample_store))
    calls: list[dict] = []
    real = store.chunks.get
    store.chunks.get = lambda **kw: (calls.append(kw), real(**kw))[1]  # type: ignore[method-assign]
    ids = store.all_ids()
    assert len(calls) == 1 and "offset" not in calls[0]  # offset pages cost their offset again
    paged = [i for offset in range(0, len(ids), 7) for i in real(include=[], limit=7, offset=offset)["ids"]]
    assert ids == paged == store.everything().ids and len(ids) == store.count()

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


def rows_by_id(snap: Snapshot) -> dict[str, tuple]:
    """Each live chunk's columns, as names, and its vector."""
    out = {}
    for cid in snap.ids:
        r = snap._row[cid]
        out[cid] = (int(snap.dates[r]), snap.source_names[int(snap.sources[r])], snap.kind_names[int(snap.kinds[r])],
                    snap.doc_keys[int(snap.docs[r])], int(snap.positions[r]), int(snap.pages[r]),
                    snap.collection_names[int(snap.collections[r])], tuple(np.asarray(snap.vectors[r]).tolist()))
    return out


def assert_same(a: Snapshot, b: Snapshot) -> None:
    """The same chunks with the same columns and vectors, the same keyword scores and neighbours
    (rows may be in another order: a refreshed snapshot appends what changed)."""
    assert sorted(a.ids) == sorted(b.ids) and len(a.ids) == len(set(a.ids))
    assert rows_by_id(a) == rows_by_id(b)
    assert set(a.facets()[0]) == set(b.facets()[0]) and set(a.facets()[1]) == set(b.facets()[1])
    for query in QUERIES:
        got, want = a.keyword(query, 500), b.keyword(query, 500)
        assert sorted((-round(s, 5), c) for c, s in got) == sorted((-round(s, 5), c) for c, s in want), query
        assert {c: round(a.coverage(query, c), 9) for c in a.ids} == {c: round(b.coverage(query, c), 9) for c in b.ids}
    assert [a.idf(t) for t in TERMS] == pytest.approx([b.idf(t) for t in TERMS], abs=1e-12)
    assert {c: a.neighbours(c, 1, 1) for c in a.ids} == {c: b.neighbours(c, 1, 1) for c in b.ids}


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
    assert empty.ids == [] and (settings.store / "snapshot" / "meta.json").is_file()
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


def _change_one_file(archive_copy: Path) -> None:
    target = next((archive_copy / "news").glob("*.md"))
    target.write_text(target.read_text() + "\n\nA closing paragraph about the harbour ferry strike.\n")


def test_an_ingestion_writes_a_tail_and_leaves_the_base_as_it_was(archive_copy: Path, settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding and changing files costs the files, not the archive: the refresh reads the chunks
    the ingestion's journal names (the store's ids are not listed), writes them as a new tail,
    masks the base rows they replace, and does not touch the base's files."""
    ingest([archive_copy / "news", archive_copy / "reports"], settings)
    folder = settings.store / "snapshot"
    base = json.loads((folder / "meta.json").read_text())["base"]
    files = {f.name: f.stat().st_mtime_ns for f in (folder / base).iterdir()}
    listings = []
    all_ids = Store.all_ids
    monkeypatch.setattr(Store, "all_ids", lambda self: listings.append(1) or all_ids(self))
    _change_one_file(archive_copy)
    report = ingest([archive_copy], settings, prune=True)
    assert report.ok and report.added and report.updated
    assert listings == []  # the journal said what changed
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["base"] == base and meta["tail"] and meta["removed"]
    assert {f.name: f.stat().st_mtime_ns for f in (folder / base).iterdir()} == files
    assert sorted(p.name for p in folder.iterdir()) == sorted(["meta.json", base, meta["tail"], meta["removed"]])
    store = Store.open(settings)
    snap = Snapshot.load(store)
    assert snap.tail is not None and snap.removed is not None and snap.size == store.count()
    monkeypatch.undo()
    assert_same(snap, Snapshot.rebuild(store))


def test_a_refresh_lists_the_store_when_another_writer_changed_it(archive_copy: Path, settings: Settings) -> None:
    """A journal is trusted only where its writer made every change since the snapshot: another
    Store's bump in between breaks its chain, and the refresh finds the other's chunks by listing."""
    ingest([archive_copy / "news", archive_copy / "reports"], settings)
    mine, theirs = Store.create(settings, 384), Store.create(settings, 384)
    other = Store.open(settings)
    ids = other.all_ids()[:3]
    got = other.fetch(ids)
    mine.bump_generation()
    mine.delete(ids[:1])
    theirs.bump_generation()
    theirs.upsert([f"{c}-theirs" for c in ids], got.vectors, got.texts, got.metas)  # not in my journal
    mine.bump_generation()
    assert mine.journal.since(Snapshot.load(other).generation, mine.refresh_generation()) is None
    fresh = Snapshot.refresh(mine)
    assert {f"{c}-theirs" for c in ids} <= set(fresh.ids) and ids[0] not in fresh.ids
    assert_same(fresh, Snapshot.rebuild(mine))


def test_a_tail_past_its_share_is_merged_into_a_new_base(archive_copy: Path, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.index.snapshot as snapshot

    ingest([archive_copy / "news", archive_copy / "reports"], settings)
    folder = settings.store / "snapshot"
    base = json.loads((folder / "meta.json").read_text())["base"]
    monkeypatch.setattr(snapshot, "TAIL_MIN", 0)
    monkeypatch.setattr(snapshot, "TAIL_SHARE", 0.0)
    _change_one_file(archive_copy)
    ingest([archive_copy], settings, prune=True)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["base"] != base and meta["tail"] is None and meta["removed"] is None
    assert sorted(p.name for p in folder.iterdir()) == sorted(["meta.json", meta["base"]])
    store = Store.open(settings)
    merged = Snapshot.load(store)
    assert (np.diff(merged.base.postings.indptr) > 0).all()  # no term only the replaced chunks had
    assert_same(merged, Snapshot.rebuild(store))


def test_a_reader_reloading_after_an_ingestion_keeps_the_base_and_its_compact_copy(
        archive_copy: Path, settings: Settings) -> None:
    """The base never changes once saved: a reload reads the new tail alone, and dense search
    goes on with the base's compact copy (at 1M chunks, seconds to make again)."""
    ingest([archive_copy / "news", archive_copy / "reports"], settings)
    reader = Assistant(store=settings.store)
    reader.search("press freedom")
    before = reader.retriever.snapshot
    scorer = before.base._scorer
    assert scorer is not None
    _change_one_file(archive_copy)
    ingest([archive_copy], settings)
    reader.retriever.recheck()
    after = reader.retriever.snapshot
    assert after is not before and after.base is before.base and after.tail is not None
    hits = reader.search("harbour ferry strike closing paragraph")
    assert after.base._scorer is scorer and any("closing paragraph" in p.text for p in hits)


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


def test_keyword_scores_are_bm25s_s_over_the_live_chunks_of_every_segment() -> None:
    """BM25 scored at query time from term counts (assistant/index/postings.py) gives bm25s's
    scores over the same chunks: on the sample archive's paragraphs and on 4,000 synthetic chunks
    with Zipf-distributed terms (repeats, rare terms, empty chunks), split into a base and a tail
    segment with base rows removed, against bm25s over the live chunks alone."""
    import bm25s
    from bm25s.tokenization import Tokenized

    from assistant.index.keyword import tokenize
    from assistant.index.postings import KeywordIndex, Postings

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
        n = len(terms)
        cut = n * 2 // 3
        removed = np.zeros(cut, dtype=bool)
        removed[rng.choice(cut, cut // 5, replace=False)] = True
        # The tail knows only its own terms, in its own order.
        tail_vocab = sorted({vocab[t] for ts in terms[cut:] for t in ts})
        tail_id = {v: i for i, v in enumerate(tail_vocab)}
        tail_terms = [np.array([tail_id[vocab[t]] for t in ts], dtype=np.int32) for ts in terms[cut:]]
        ours = KeywordIndex([Postings.build(terms[:cut], vocab), Postings.build(tail_terms, tail_vocab)],
                            np.concatenate([~removed, np.ones(n - cut, dtype=bool)]))
        live = [i for i in range(n) if i >= cut or not removed[i]]
        theirs = bm25s.BM25()
        theirs.index(Tokenized(ids=[terms[i].tolist() for i in live], vocab={v: i for i, v in enumerate(vocab)}),
                     show_progress=False)
        for query in ([vocab[int(terms[7][0])]], [vocab[i] for i in range(0, size, 97) if i < len(vocab)],
                      [vocab[int(t)] for t in terms[cut + 3][:6]] * 2):
            want = theirs.get_scores_from_ids(theirs.get_tokens_ids(query))
            got = ours.scores(query)
            assert got is not None and np.allclose(got[live], want, rtol=1e-5, atol=1e-6), query
            assert not got[:cut][removed].any()
        assert ours.count == len(live) and len(paragraphs) > 50


def test_stacked_postings_hold_each_chosen_row_s_counts_in_one_vocabulary() -> None:
    """Merging segments places each posting straight into its term's block: the chosen rows'
    counts, renumbered in order, under one vocabulary without terms no chosen row has."""
    import scipy.sparse

    from assistant.index.postings import Postings

    rng = np.random.default_rng(3)

    def segment(n: int, names: list[str]) -> Postings:
        return Postings.build([rng.integers(0, len(names), rng.integers(0, 40)).astype(np.int32) for _ in range(n)],
                              names)

    def counts(p: Postings) -> dict[tuple[int, str], int]:
        m = scipy.sparse.csc_matrix((p.tf.astype(np.int64), p.rows, p.indptr), shape=(len(p), len(p.vocab)))
        dense = m.toarray()
        return {(int(r), p.vocab[int(t)]): int(dense[r, t]) for r, t in zip(*np.nonzero(dense))}

    for trial in range(10):
        a = segment(300, [f"w{i}" for i in range(50)])
        b = segment(40, [f"w{i}" for i in range(20, 60)])  # terms shared, and its own
        ra = np.sort(rng.choice(300, 200, replace=False))
        rb = None if trial % 2 else np.sort(rng.choice(40, 25, replace=False))
        got = Postings.stack([(a, ra), (b, rb)])
        want = {}
        for new, old in enumerate(ra):
            want.update({(new, t): c for (r, t), c in counts(a).items() if r == old})
        for new, old in enumerate(range(40) if rb is None else rb):
            want.update({(200 + new, t): c for (r, t), c in counts(b).items() if r == old})
        assert counts(got) == want
        assert all((np.diff(got.rows[got.indptr[t]:got.indptr[t + 1]]) > 0).all() for t in range(len(got.vocab)))
        assert (np.diff(got.indptr) > 0).all() and set(got.vocab) == {t for _, t in want}
        assert np.array_equal(got.lengths, np.concatenate([a.lengths[ra], b.lengths if rb is None else b.lengths[rb]]))
    with pytest.raises(ValueError):
        Postings.stack([(a, np.array([3, 1]))])


def test_a_merged_segment_names_only_what_its_rows_hold() -> None:
    """Names only left-out rows had (a source whose files were all removed) leave the merged
    segment, so facets do not offer them; the kept rows keep their names."""
    from assistant.index.postings import Postings
    from assistant.index.segment import build, join
    from assistant.index.snapshot import Snapshot

    def segment(ids: list[str], sources: list[str]) -> object:
        n = len(ids)
        values = {"dates": np.zeros(n, dtype=np.int64), "sources": sources, "kinds": ["txt"] * n,
                  "docs": [f"/{i}\0d" for i in ids], "positions": np.zeros(n, np.int32),
                  "pages": np.zeros(n, np.int32), "collections": ["main"] * n}
        return build(ids, values, np.eye(n, 4, dtype=np.float32), Postings.build([np.zeros(0, np.int32)] * n, []))

    base = segment(["a", "b", "c"], ["Ledger", "Gazette", "Ledger"])
    tail = segment(["d"], ["Courier"])
    merged = join([(base, np.array([0, 2])), (tail, None)])  # type: ignore[list-item]
    assert merged.names["sources"] == ["Courier", "Ledger"] and merged.names["doc_keys"] == ["/a\0d", "/c\0d", "/d\0d"]
    assert merged.strings("sources") == ["Ledger", "Ledger", "Courier"]
    assert Snapshot("g", merged).facets() == (["Courier", "Ledger"], ["txt"])


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
    path = (sample_store / "snapshot" / snap.base.name / "vectors.npy").resolve()
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

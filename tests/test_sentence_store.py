"""Sentence vectors encoded at ingestion (ingest/sentences.py, assistant/index/sentence_store.py):
answers on such a store encode none of their passages' sentences and say what they said before;
a damaged or half-written shard is never read and is made again; a merge keeps only what live
chunks need; a sync with nothing new encodes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.index.sentence_store import SentenceStore, keys_of
from assistant.index.store import Store
from assistant.index.text import sentence_inputs
from assistant.settings import Settings
from ingest import ingest

QUESTIONS = [
    "Why did Marvala reject the 2023 OHCHR report?",
    "How many former detainees were interviewed for the report Behind Closed Doors?",
    "Who was the UN Special Rapporteur who made an official visit to Marvala in 2022?",
]


def _all_inputs(store: Path) -> list[str]:
    chunks = Store.open(Settings(store=store)).everything()
    return [t for text, meta in zip(chunks.texts, chunks.metas) for t in sentence_inputs(meta.title, text)]


def test_answers_read_the_saved_vectors_and_say_the_same(sample_store: Path, tmp_path: Path) -> None:
    saved = SentenceStore.of(Settings(store=sample_store))
    inputs = _all_inputs(sample_store)
    assert inputs and saved.has(keys_of(inputs)).all()  # every sentence of every chunk, both ways
    reading = Assistant(store=sample_store)
    bare = tmp_path / "store"
    shutil.copytree(sample_store, bare)
    shutil.rmtree(SentenceStore.of(Settings(store=bare)).folder)
    encoding = Assistant(store=bare)
    for q in QUESTIONS:
        got, want = reading.ask(q), encoding.ask(q)
        # bf16 rounds a sentence differently in batches of other shapes (tests/test_sentence_vectors.py):
        # the answer's lead and sources are the same.
        assert got.text.split(" [")[0] == want.text.split(" [")[0], q
        assert [c.doc_id for c in got.citations][:1] == [c.doc_id for c in want.citations][:1]
    assert reading.sentence_vectors.misses == 0 and reading.sentence_vectors.saved > 0
    assert encoding.sentence_vectors.misses > 0 and encoding.sentence_vectors.saved == 0


def test_a_saved_vector_is_the_models_vector_of_its_text(sample_store: Path) -> None:
    saved = SentenceStore.of(Settings(store=sample_store))
    inputs = _all_inputs(sample_store)[:40]
    found, vectors = saved.lookup(inputs)
    assert found.all()
    direct = Assistant(store=sample_store).embedder.encode_sentences(inputs)
    products = vectors @ direct.T
    assert np.abs(np.diag(products) - 1).max() < 0.01  # float16 of the bf16 model's output
    others = products - np.eye(len(inputs)) * 10
    assert np.diag(products).min() > others.max(axis=1).min()
    missing, _ = saved.lookup(["A sentence that no document of the archive holds, surely."])
    assert not missing.any()


def test_damage_is_never_read_and_the_next_sync_makes_it_again(archive_copy: Path, settings: Settings) -> None:
    report = ingest([archive_copy], settings)
    assert report.ok and report.sentences_encoded > 0
    saved = SentenceStore.of(settings)
    (shard,) = [p for p in saved.folder.iterdir() if p.is_dir()]
    keys = shard / "keys.npy"
    data = bytearray(keys.read_bytes())
    data[-100:] = bytes(100)  # damage: sentences would be handed others' vectors
    keys.write_bytes(bytes(data))
    (saved.folder / ".half-written").mkdir()  # a writer killed before its rename
    fresh = SentenceStore.of(settings)
    assert fresh.shards == [] and not fresh.lookup(["anything at all here."])[0].any()
    answer = Assistant(settings=settings).ask(QUESTIONS[0])  # encodes what it needs instead
    assert answer.citations
    again = ingest([archive_copy], settings)  # nothing changed in the archive
    assert again.sentences_encoded == report.sentences_encoded
    assert sorted(p.name for p in saved.folder.iterdir() if p.is_dir()) != [shard.name]
    assert not (saved.folder / ".half-written").exists()
    assert SentenceStore.of(settings).has(keys_of(_all_inputs(settings.store))).all()
    assert ingest([archive_copy], settings).sentences_encoded == 0  # done: nothing to do
    (made,) = [p for p in saved.folder.iterdir() if p.is_dir()]
    vectors = made / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-768])  # cut short: one vector fewer than its keys
    assert SentenceStore.of(settings).shards == []


def test_a_merge_keeps_what_live_chunks_need(archive_copy: Path, settings: Settings, tmp_path: Path) -> None:
    files = sorted(archive_copy.rglob("*.md"))
    later, gone = files[0], files[1]
    aside = tmp_path / later.name
    later.rename(aside)
    ingest([archive_copy], settings)
    aside.rename(later)
    ingest([archive_copy], settings)  # a second shard, for the file added
    before = set(_all_inputs(settings.store))
    gone.unlink()
    ingest([archive_copy], settings, prune=True)
    live_inputs = _all_inputs(settings.store)
    gone_inputs = sorted(before - set(live_inputs))
    assert gone_inputs
    saved = SentenceStore.of(settings)
    assert len(saved.shards) == 2
    _, want = saved.lookup(live_inputs)
    from assistant.index.snapshot import Snapshot

    saved.merge(Snapshot.load(Store.open(settings)).ids)
    merged = SentenceStore.of(settings)
    assert len(merged.shards) == 1
    found, got = merged.lookup(live_inputs)
    assert found.all() and np.array_equal(got, want)
    assert not merged.has(keys_of(gone_inputs)).any()
    assert ingest([archive_copy], settings).sentences_encoded == 0  # the merged shard covers the rest
    for path in sorted(p for p in archive_copy.rglob("*") if p.is_file())[1:]:
        path.unlink()  # most of the archive gone: the next sync merges by itself, dropping theirs
    before = set(live_inputs)
    ingest([archive_copy], settings, prune=True)
    left = _all_inputs(settings.store)
    after = SentenceStore.of(settings)
    assert len(after.shards) == 1 and after.shards[0].name != merged.shards[0].name
    assert after.has(keys_of(left)).all() and not after.has(keys_of(sorted(before - set(left)))).any()


def test_off_saves_nothing(archive_copy: Path, tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "off", sentence_vectors=False)
    report = ingest([archive_copy], settings)
    assert report.ok and report.sentences_encoded == 0
    assert not SentenceStore.of(settings).folder.exists()


@pytest.mark.parametrize("texts", [[], ["One sentence that is long enough to quote here."]])
def test_an_empty_store_finds_nothing(tmp_path: Path, texts: list[str]) -> None:
    found, vectors = SentenceStore(tmp_path / "none").lookup(texts)
    assert not found.any() and len(vectors) == len(texts)


def test_a_sentence_store_that_cannot_be_written_leaves_the_ingestion_whole(
        archive_copy: Path, settings: Settings, capfd: pytest.CaptureFixture[str]) -> None:
    folder = SentenceStore.of(settings).folder
    folder.parent.mkdir(parents=True)
    folder.write_text("a file where the folder should be")  # as unwritable as a full disk
    report = ingest([archive_copy], settings)
    assert report.ok and report.sentences_encoded == 0 and report.chunks_in_store > 0
    assert "Sentence vectors for answers not saved" in capfd.readouterr().err
    assert Assistant(settings=settings).ask(QUESTIONS[0]).citations  # answered, encoding as it goes
    folder.unlink()
    assert ingest([archive_copy], settings).sentences_encoded > 0  # the next sync makes them

"""Crash safety: a real ingestion process killed with SIGKILL mid-run, then re-run, ends with
exactly the store a clean run builds: same chunk ids and texts, no duplicates, nothing missing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.snapshot import Snapshot
from assistant.store import Store

pytestmark = pytest.mark.slow

WORDS = ["committee", "report", "ministry", "detention", "review", "council", "statement", "mission", "rights", "court", "lawyer", "protest", "assembly", "journalist", "visit", "recommendation", "government", "agency", "budget", "province", "harbour", "election", "observer", "tribunal", "appeal", "archive", "witness", "hearing", "decree", "treaty", "envoy"]


def make_corpus(root: Path, records: int = 240, files: int = 30) -> Path:
    rng = random.Random(7)

    def text(n: int) -> str:
        return " ".join(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(n))

    root.mkdir()
    with (root / "feed.jsonl").open("w") as fh:
        for i in range(records):
            fh.write(json.dumps({"id": f"r{i}", "title": f"Record {i}", "text": text(40)}) + "\n")
    for i in range(files):
        (root / f"note-{i:02d}.md").write_text(f"---\ntitle: Note {i}\ndate: 2023-01-{i % 28 + 1:02d}\n---\n\n"
                                               + text(25))
    return root


def ingest_cmd(corpus: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "assistant", "ingest", str(corpus), "--store", str(store), "-q"]


def snapshot(store: Path) -> dict[str, str]:
    s = Store.open(Settings(store=store))
    got = s.chunks.get(include=["documents"])
    assert len(got["ids"]) == len(set(got["ids"])) == s.count()
    return dict(zip(got["ids"], got["documents"]))


def test_killed_ingestion_converges_to_the_clean_result(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    start = time.monotonic()
    subprocess.run(ingest_cmd(corpus, tmp_path / "clean"), check=True, timeout=600)
    clean_seconds = time.monotonic() - start
    expected = snapshot(tmp_path / "clean")
    assert len(expected) > 500

    store = tmp_path / "killed"
    rng = random.Random(11)
    kills = 0
    for fraction in (0.45, 0.6, 0.75, 0.9):  # model load takes the first part of a run
        proc = subprocess.Popen(ingest_cmd(corpus, store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(clean_seconds * fraction * rng.uniform(0.9, 1.1))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the runs finished before they could be killed: make the corpus bigger"
    partial = snapshot(store) if (store / "chroma").exists() else {}
    assert len(partial) < len(expected) or partial == expected

    final = subprocess.run(ingest_cmd(corpus, store), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stdout + final.stderr
    assert snapshot(store) == expected
    again = subprocess.run(ingest_cmd(corpus, store), capture_output=True, text=True, timeout=600)
    assert "0 documents added, 0 updated, 270 unchanged" in again.stdout and "0 embedded" in again.stdout

    # The snapshot (keyword index, filter columns) is derived data: after the kills it matches the store again.
    s = Store.open(Settings(store=store))
    assert sorted(Snapshot.load(s).ids) == sorted(expected)

"""Crash safety: ingestion killed with SIGKILL at 20 random points converges, every time, to
exactly the store one clean run builds: the same chunk ids, texts and metadata, the same
manifest, no duplicates, and a keyword snapshot that searches as the clean one does.

How the kills are placed. Each killed run is the real `assistant sync` (the CLI's `main`) in
a process forked from tests/forkrun.py, which has the model loaded already: a fork costs
milliseconds where a fresh interpreter costs seconds, so 20 kills fit in CI time. A seeded
random schedule aims each kill at one of seven phases in turn, so that every phase is hit:
  start     a random moment of the run (uniform over a clean run's duration);
  parse     the k-th document chunked (parsing thread);
  embed     the k-th batch being embedded;
  upsert    the k-th Chroma write of a chunk batch (Chroma writes its HNSW files on every
            write here, see forkrun);
  bump      the store generation being bumped (the run's first write);
  manifest  the k-th file's manifest record being written (after its chunks);
  snapshot  the keyword snapshot being rebuilt and saved (the run's last step);
with k and a delay of a few ms to a few hundred ms drawn at random, so the kill lands inside
that call or just after it. A kill that cuts Chroma's own index files short (it rewrites them
in place) is repaired by the next run's opening of the store (assistant/index/repair.py).
Kills accumulate on one store while the corpus alternates between two versions (B edits,
removes and adds files of A), so every version's work is interrupted several times; each time
a run is let finish, the store is compared with the clean store of that version.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SEED = 20240611
KILLS = 20
PER_VERSION = 4  # kills on one corpus version before a run is let finish
PHASES = ["start", "parse", "embed", "upsert", "bump", "manifest", "snapshot"]
QUERIES = ["harbour treaty envoy", "lawyer witness hearing appeal", "budget province election"]
WORDS = ["committee", "report", "ministry", "detention", "review", "council", "statement", "mission", "rights",
         "court", "lawyer", "protest", "assembly", "journalist", "visit", "recommendation", "government",
         "agency", "budget", "province", "harbour", "election", "observer", "tribunal", "appeal", "archive",
         "witness", "hearing", "decree", "treaty", "envoy"]


def write_corpus(root: Path, version: str) -> None:
    """Version A: 16 notes (3 long enough for two chunks) and 8 JSONL records. Version B
    edits 6 notes and 2 records, removes 2 notes and adds 2."""
    rng = random.Random(7)

    def text(sentences: int) -> str:
        return " ".join(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
                        for _ in range(sentences))

    notes = {f"note-{i:02d}.md": text(16 if i % 6 == 0 else 4) for i in range(16)}
    records = [{"id": f"r{i}", "title": f"Record {i}", "text": text(3), "date": f"2022-0{i % 9 + 1}-15"}
               for i in range(8)]
    if version == "B":
        for i in range(0, 16, 3):
            notes[f"note-{i:02d}.md"] += " " + text(2)
        for name in ("note-01.md", "note-04.md"):
            del notes[name]
        notes.update({f"new-{i}.md": text(4) for i in range(2)})
        for r in records[:2]:
            r["text"] += " " + text(1)
    for old in root.glob("*.md"):
        if old.name not in notes:
            old.unlink()
    root.mkdir(exist_ok=True)
    for i, (name, body) in enumerate(sorted(notes.items())):
        (root / name).write_text(f"---\ntitle: {name[:-3]}\ndate: 2023-01-{i % 28 + 1:02d}\n---\n\n{body}\n")
    (root / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


class ForkRunner:
    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("forkrun.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd)

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the fork server died"
        return dict(json.loads(line))

    def cli(self, argv: list[str], store: Path, kill: dict[str, Any] | None = None) -> dict[str, Any]:
        """An `assistant` command on `store`, killed as `kill` says (None: run to the end); `output`
        holds the end of what it printed, for a failing assertion to show."""
        log = store.with_name(store.name + ".log")
        reply = self({"argv": [*argv, "--store", str(store)], "kill": kill, "log": str(log)})
        return {**reply, "output": log.read_text()[-3000:] if log.exists() else ""}

    def store_dump(self, store: Path, out: Path) -> dict[str, Any]:
        """The store's chunks, manifest and snapshot (keyword searches only), checked consistent:
        no chunk twice, and the snapshot holding exactly the store's chunks."""
        assert self({"dump": str(store), "out": str(out), "queries": QUERIES, "vectors": [], "full": False})["code"] == 0
        got = dict(json.loads(out.read_text()))
        assert got["count"] == len(set(got["ids"])) and got["snapshot_ids"] == sorted(got["ids"])
        return got

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def kill_point(rng: random.Random, phase: str, clean_seconds: float) -> dict[str, Any]:
    if phase == "start":
        return {"at": "start", "delay": rng.uniform(0.05, 1.0) * clean_seconds}
    call, delay = {"parse": (rng.randint(1, 6), rng.uniform(0, 0.05)),
                   "embed": (rng.randint(1, 3), rng.uniform(0, 0.3)),
                   "upsert": (rng.randint(1, 3), rng.uniform(0, 0.03)),
                   "bump": (1, rng.uniform(0, 0.02)),
                   "manifest": (rng.randint(1, 10), rng.uniform(0, 0.01)),
                   "snapshot": (1, rng.uniform(0, 0.08))}[phase]
    return {"at": phase, "call": call, "delay": delay}


def assert_same_ranking(got: list[list[Any]], want: list[list[Any]], query: str, tol: float = 5e-3) -> None:
    """Same results and scores within `tol`; only near-ties may swap places or trade the last place."""
    mine, theirs = dict(map(tuple, got)), dict(map(tuple, want))
    for cid in mine.keys() & theirs.keys():
        assert abs(mine[cid] - theirs[cid]) <= tol, (query, cid, mine[cid], theirs[cid])
    for cid in mine.keys() ^ theirs.keys():
        cutoff = min(mine.values()) if cid in mine else min(theirs.values())
        assert abs(mine.get(cid, theirs.get(cid, 0)) - cutoff) <= tol, (query, cid)
    ranks = {cid: r for r, (cid, _) in enumerate(want)}
    for (a, sa), (b, sb) in zip(got, got[1:]):
        if a in ranks and b in ranks and ranks[a] > ranks[b]:
            assert abs(sa - sb) <= 2 * tol, (query, a, b)


def killed_copies(run: ForkRunner, argv: list[str], clean: Path, tmp_path: Path,
                  kills: list[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any], Path]]:
    """For each kill in turn, a copy of the `clean` store on which `argv` was killed as it says:
    (kills landed so far, the kill, the copy), the copy removed once the caller has checked its
    repair. A run that ended before its kill is tried again with the kill sooner."""
    import shutil

    killed, attempt = 0, 0
    while killed < len(kills):
        kill, attempt = kills[killed], attempt + 1
        assert attempt <= 3 * len(kills), f"only {killed} of {len(kills)} kills landed"
        store = tmp_path / f"store-{attempt}"
        shutil.copytree(clean, store)
        if not run.cli(argv, store, kill)["killed"]:  # the run ended first: sooner
            kills[killed] = {**kill, "delay": kill.get("delay", 0) / 2}
            shutil.rmtree(store)
            continue
        killed += 1
        yield killed, kill, store
        shutil.rmtree(store)


def test_killed_ingestion_converges_to_the_clean_result(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "corpus"
    run = ForkRunner(root)
    dumps = tmp_path / "dumps"
    dumps.mkdir()

    logs = tmp_path / "logs"
    logs.mkdir()

    def sync(store: Path, kill: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run's reply, with what it printed (`output`) for a failure's message."""
        log = logs / f"{len(list(logs.iterdir()))}.log"
        reply = run({"argv": ["sync", str(corpus), "--store", str(store), "-q"], "kill": kill, "log": str(log)})
        return {**reply, "output": log.read_text()[-2000:]}

    vectors: list[list[float]] = []  # query vectors for the model-free searches

    def dump(store: Path, name: str, full: bool = False) -> dict[str, Any]:
        out = dumps / f"{name}.json"
        log = logs / f"{len(list(logs.iterdir()))}.log"
        request = {"dump": str(store), "out": str(out), "queries": QUERIES, "vectors": vectors, "full": full,
                   "log": str(log)}
        assert run(request)["code"] == 0, (name, log.read_text()[-3000:])
        return dict(json.loads(out.read_text()))

    try:
        # One clean run per corpus version, from the same corpus path (ids derive from it).
        clean: dict[str, dict[str, Any]] = {}
        seconds: dict[str, float] = {}
        for version in ("A", "B"):
            write_corpus(corpus, version)
            reply = sync(tmp_path / f"clean-{version}")
            assert reply["code"] == 0, reply
            seconds[version] = reply["seconds"]
        first = dump(tmp_path / "clean-A", "vectors")
        vectors += [first["vectors"][cid] for cid in sorted(first["vectors"])[:3]]
        for version in ("A", "B"):
            clean[version] = dump(tmp_path / f"clean-{version}", f"clean-{version}", full=True)
            assert clean[version]["count"] >= 25
        assert clean["A"]["chunks"] != clean["B"]["chunks"]

        rng = random.Random(SEED)
        store = tmp_path / "killed"
        killed: list[tuple[str, dict[str, Any]]] = []
        checks = 0
        version, in_version, attempts = "A", 0, 0
        write_corpus(corpus, version)
        start = time.monotonic()
        while len(killed) < KILLS or in_version:
            attempts += 1
            assert attempts < 80, f"only {len(killed)} kills landed in {attempts} runs"
            phase = PHASES[len(killed) % len(PHASES)]
            kill = kill_point(rng, phase, seconds[version]) if in_version < PER_VERSION and \
                len(killed) < KILLS else None
            reply = sync(store, kill)
            if reply["killed"]:
                killed.append((version, kill or {}))
                in_version += 1
                continue
            if reply["code"] != 0:  # in full: an assertion's message is cut to a line
                pytest.fail(f"sync exited {reply['code']} after the kills {killed[-in_version:]} (its own kill, "
                            f"which did not land: {kill}); it printed:\n{reply['output']}")
            # The run finished: the store must be exactly the clean one of this version.
            got = dump(store, f"check-{checks}", full=len(killed) == KILLS)  # the Assistant too, last
            checks += 1
            want = clean[version]
            assert got["count"] == len(got["ids"]) == len(set(got["ids"])), "duplicate chunks"
            assert got["chunks"] == want["chunks"], f"chunks differ after kills {killed[-in_version:]}"
            assert got["files"] == want["files"], "manifest differs"
            assert got["snapshot_ids"] == sorted(got["ids"])
            # Vectors and scores agree to ~1e-3, not bit for bit: in bf16 a chunk's vector depends
            # slightly on the batch it was embedded in, and an interrupted run batches differently.
            for cid, vector in want["vectors"].items():
                assert float(np.dot(vector, got["vectors"][cid])) > 0.99, cid
            for query, results in got["searches"].items():
                assert_same_ranking(results, want["searches"][query], query)
            last, version, in_version = version, ("B" if version == "A" else "A"), 0
            write_corpus(corpus, version)
        elapsed = time.monotonic() - start

        assert any(q.startswith("hybrid:") for q in got["searches"]), "the last check ran no Assistant search"
        by_phase = {p: sum(k.get("at") == p for _, k in killed) for p in PHASES}
        assert len(killed) == KILLS and all(n >= 2 for n in by_phase.values()), by_phase
        assert checks >= KILLS // PER_VERSION
        # Nothing is left half-done: one more run of the last version changes nothing.
        write_corpus(corpus, last)
        log = tmp_path / "again.log"
        assert run({"argv": ["sync", str(corpus), "--store", str(store)], "kill": None,
                    "log": str(log)})["code"] == 0
        summary = log.read_text()
        assert "0 documents added, 0 updated" in summary and "0 removed" in summary, summary
        assert "Chunks: 0 embedded" in summary, summary
        print(f"{len(killed)} kills in {attempts} runs, {checks} convergence checks, {elapsed:.0f} s; "
              f"kills by phase {by_phase}; clean runs {seconds}")
    finally:
        run.close()


def test_killed_removal_is_finished_by_the_next_removal_or_undone_by_the_next_sync(tmp_path: Path) -> None:
    """`assistant remove` killed at random points (in the files' removal: their records marked,
    their chunks deleted, their records deleted; and in the snapshot's refresh): removing again gives exactly the clean store without the
    files, and syncing the folder (where the files still are) gives exactly the clean store.
    Never a record of a file whose chunks are gone, which a sync would skip as unchanged."""

    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "corpus"
    write_corpus(corpus, "A")
    gone = [str(corpus / "note-00.md"), str(corpus / "feed.jsonl")]  # two chunks, and eight records
    run = ForkRunner(root)
    dumps = tmp_path / "dumps"
    dumps.mkdir()

    cli = run.cli

    def dump(store: Path, name: str) -> dict[str, Any]:
        return run.store_dump(store, dumps / f"{name}.json")

    try:
        clean = tmp_path / "clean"
        assert cli(["sync", str(corpus), "-q"], clean)["code"] == 0
        full = dump(clean, "full")
        without = {"chunks": {i: c for i, c in full["chunks"].items() if c[1]["file"] not in gone},
                   "files": {k: r for k, r in full["files"].items() if k not in gone}}
        assert len(without["chunks"]) < len(full["chunks"]) and len(without["files"]) == len(full["files"]) - 2
        # First the window that matters most, exactly: the files' chunks deleted, their records
        # not yet, followed by each repair; then kills at random moments of the removal (records
        # marked, chunks listed and deleted, records deleted), of the chunk deletion, and of
        # the snapshot.
        rng = random.Random(SEED)
        kills: list[dict[str, Any]] = [{"at": "delete", "call": 1, "after": True} for _ in range(2)]
        for i in range(8):
            phase = ["remove", "delete", "snapshot"][i % 3]
            kills.append({"at": phase, "call": 1, "delay": rng.uniform(0, 0.08 if phase == "snapshot" else 0.03)})
        for killed, kill, store in killed_copies(run, ["remove", *gone], clean, tmp_path, kills):
            if killed % 2:  # the user removes again: the job is finished
                assert cli(["remove", *gone], store)["code"] in (0, 1)  # 1: a file already fully gone
                got, want = dump(store, f"removed-{killed}"), without
            else:  # the user syncs the folder instead: the files are still there, so back they come
                assert cli(["sync", str(corpus), "-q"], store)["code"] == 0
                got, want = dump(store, f"synced-{killed}"), full
            assert got["chunks"] == want["chunks"], (kill, "removed" if killed % 2 else "synced")
            assert got["files"] == want["files"], kill
    finally:
        run.close()


def test_killed_move_is_finished_by_the_next_move_or_ingestion(tmp_path: Path) -> None:
    """`assistant move` killed at random points (records marked, chunks' collection changed,
    marks cleared; the snapshot's refresh): moving again, or ingesting the folder again (which
    finishes every move cut short), gives exactly the store a clean move gives. Never a file
    half in one collection and half in another, which a reader of either would half see."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "corpus"
    write_corpus(corpus, "A")
    moving = [str(corpus / "note-00.md"), str(corpus / "feed.jsonl")]
    run = ForkRunner(root)
    dumps = tmp_path / "dumps"
    dumps.mkdir()

    cli = run.cli

    def dump(store: Path, name: str) -> dict[str, Any]:
        return run.store_dump(store, dumps / f"{name}.json")

    move = ["move", *moving, "--collection", "donor-x"]
    try:
        clean = tmp_path / "clean"
        assert cli(["sync", str(corpus), "-q"], clean)["code"] == 0
        want_store = tmp_path / "moved"
        shutil.copytree(clean, want_store)
        assert cli(move, want_store)["code"] == 0
        want = dump(want_store, "moved")
        moved = [c for c in want["chunks"].values() if c[1].get("collection") == "donor-x"]
        assert moved and {c[1]["file"] for c in moved} == set(moving)
        assert sorted(i for i, c in want["snapshot_collections"].items() if c == "donor-x") == \
            sorted(i for i, c in want["chunks"].items() if c[1].get("collection") == "donor-x")
        rng = random.Random(SEED)
        kills: list[dict[str, Any]] = [{"at": "recollect", "call": 1, "after": True} for _ in range(2)]
        for i in range(6):
            phase = ["move", "recollect", "snapshot"][i % 3]
            kills.append({"at": phase, "call": 1, "delay": rng.uniform(0, 0.08 if phase == "snapshot" else 0.02)})
        for killed, kill, store in killed_copies(run, move, clean, tmp_path, kills):
            if killed % 2:  # the user moves again
                assert cli(move, store)["code"] == 0
            else:  # or ingests the folder (no collection named: each file keeps its own)
                assert cli(["ingest", str(corpus), "-q"], store)["code"] == 0
            got = dump(store, f"after-{killed}")
            assert got["chunks"] == want["chunks"], (kill, "moved" if killed % 2 else "ingested")
            assert got["files"] == want["files"], kill
            # Readers search the snapshot: it must agree with Chroma on every chunk's collection.
            assert got["snapshot_collections"] == want["snapshot_collections"], kill
    finally:
        run.close()


def test_a_killed_repair_of_the_index_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """Chroma's index cut short as a kill leaves it (its id map emptied), then the repair that the
    next sync starts with killed too: at two moments just after it starts re-indexing, exactly
    before it writes the vectors back (the index emptied, the repair marked), and once it has
    re-indexed but not yet said so. The sync after that gives exactly the clean store."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "corpus"
    write_corpus(corpus, "A")
    run = ForkRunner(root)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    try:
        clean = tmp_path / "clean"
        assert run.cli(["sync", str(corpus), "-q"], clean)["code"] == 0
        want = run.store_dump(clean, dumps / "clean.json")
        maps = sorted((clean / "chroma").glob("*/index_metadata.pickle"), key=lambda p: p.stat().st_size)
        assert maps, "Chroma wrote no index id map"
        kills: list[dict[str, Any]] = [{"at": "repair", "call": 1, "delay": d} for d in (0.0, 0.005)]
        kills += [{"at": "repair-vectors", "call": 1, "after": True}, {"at": "repair", "call": 1, "after": True}]
        for i, kill in enumerate(kills):
            store = tmp_path / f"store-{i}"
            shutil.copytree(clean, store)
            (store / maps[-1].relative_to(clean)).write_bytes(b"")  # the chunks' map, the larger
            assert run.cli(["sync", str(corpus), "-q"], store, kill)["killed"], kill
            if kill.get("after"):  # a kill by a timer may land after the repair has finished
                assert (store / "repairing.json").exists(), kill
            again = run.cli(["sync", str(corpus), "-q"], store)
            assert again["code"] == 0, (kill, again["output"])
            got = run.store_dump(store, dumps / f"repaired-{i}.json")
            assert not (store / "repairing.json").exists()
            assert got["chunks"] == want["chunks"] and got["files"] == want["files"], kill
            # The vectors the index was given again are the snapshot's copies of the stored ones.
            assert all(np.allclose(v, got["vectors"][cid], atol=1e-6) for cid, v in want["vectors"].items())
    finally:
        run.close()

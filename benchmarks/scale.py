"""Cost at a million chunks: one store grown in place through checkpoints, a new reader measured at each.

The store is copies of existing stores' chunks (real texts and metadata; distinct ids; vectors
perturbed as benchmarks/retrieval.py does, so the index has realistic structure), each copied
document in one of retrieval.py's four archive collections. At each checkpoint a fresh reader
process loads the snapshot (its RSS and load time are a new reader's), times real questions
(hybrid; date-filtered; restricted to two collections), then ingests one real file with the
real pipeline (the snapshot refresh included) and removes it, timing until its own searches see
each change. Growing resumes from the store's chunk count, so an interrupted run goes on.

    python -m benchmarks.scale --store /tmp/scale-store \\
        --source .store/evals/news-2023q4/ours --source /tmp/store-tables2/financebench/ours \\
        --questions ../shared/corpora/news-2023q4/questions.jsonl --checkpoints 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import numpy as np

from assistant.index.embedding import offline_env
from assistant.index.rows import Chunks
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings
from benchmarks.retrieval import COLLECTIONS, month_filter, perturbed, timed

if TYPE_CHECKING:
    from assistant import Assistant

BATCH = 20_000  # chunks copied per upsert round: bounds the builder's memory, not Chroma's speed
FILE = Path(__file__).resolve().parent.parent / "examples/archive/news/2022-03-07-radio-sennport-rapporteur-arrives.txt"
PROBE = "Sennport rapporteur arrives"  # words of FILE, to see whether a search finds it


@dataclass
class Grown:
    chunks: int
    copied: int  # chunks written by this step
    copy_s: float  # upserting them into Chroma
    snapshot_s: float  # the builder's snapshot refresh (a rebuild where most chunks are new)


@dataclass
class Reader:
    """What one new reader process measured."""
    chunks: int
    model_s: float  # Assistant() with its embedding model, before any snapshot
    load_s: float  # the saved snapshot loaded
    rss_mb: float  # after the load and a first search
    queries: dict[str, dict[str, float]]
    filter: dict[str, Any] = field(default_factory=dict)


@dataclass
class Change:
    """The same reader's costs when one file is added and removed beside it."""
    add_s: float  # ingest() of one small file, end to end (its snapshot refresh included)
    add_refresh_s: float  # of which the snapshot refresh
    add_seen_s: float  # then until this reader's search finds it (a snapshot reload)
    remove_s: float
    remove_refresh_s: float
    remove_seen_s: float
    peak_rss_mb: float  # highest RSS over the whole run, the reloads included


def sources(paths: list[Path]) -> Chunks:
    got = Chunks.concat([Store.open(Settings(store=p)).everything() for p in paths])
    assert len(set(got.ids)) == len(got.ids), "source stores share chunk ids"
    return got


def grow(store_dir: Path, paths: list[Path], target: int) -> Grown:
    """The store grown to `target` chunks: copy c of the sources' chunks, in order, ids `{id}-{c}`."""
    src = sources(paths)
    n = len(src)
    store = Store.create(Settings(store=store_dir), src.vectors.shape[1])
    have = start_count = store.count()
    copy_s = 0.0
    if have < target:
        store.bump_generation()  # before the first change, as ingestion does
    while have < target:
        c, lo = divmod(have, n)
        hi = min(n, lo + BATCH, lo + target - have)
        vectors = src.vectors[lo:hi]
        if c:  # seeded by copy and position: uninterrupted runs to the same checkpoints agree
            vectors = perturbed(vectors, np.random.default_rng([c, lo]))
        # A copied document goes to one collection, spread by its name: even shares at every size
        # (by file, news would go whole to one: its corpus is one JSONL file).
        metas = [replace(m, file=f"{m.file}#{c}", collection=COLLECTIONS[
                     zlib.crc32(f"{m.file}#{m.doc_id}#{c}".encode()) % len(COLLECTIONS)])
                 for m in src.metas[lo:hi]]
        start = time.perf_counter()
        store.upsert([f"{i}-{c}" for i in src.ids[lo:hi]], vectors, src.texts[lo:hi], metas)
        copy_s += time.perf_counter() - start
        have += hi - lo
        print(f"  {have} chunks, {copy_s:.0f} s upserting", flush=True)
    store.bump_generation()
    start = time.perf_counter()
    Snapshot.refresh(store)
    return Grown(store.count(), have - start_count, round(copy_s, 1), round(time.perf_counter() - start, 1))


def _rss_mb(key: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB (KiB) to MiB
    return 0.0


def _until_seen(a: Assistant, present: bool) -> float:
    """Seconds until this reader's search finds FILE (or no longer does)."""
    a.retriever.recheck()
    start = time.perf_counter()
    while True:
        found = any(p.path.endswith(FILE.name) for p in a.search(PROBE, k=10))
        if found == present:
            return time.perf_counter() - start
        if time.perf_counter() - start > 120:
            raise RuntimeError("the reader never saw the change")
        time.sleep(0.05)


def read(store_dir: Path, questions: list[str]) -> tuple[Assistant, Reader]:
    """A new reader's costs; run in a process of its own."""
    from assistant import Assistant

    start = time.perf_counter()
    a = Assistant(store=store_dir)
    a.embedder.encode_query("warm-up")
    model_s = time.perf_counter() - start
    start = time.perf_counter()
    snap = a.retriever.snapshot
    load_s = time.perf_counter() - start
    a.search(questions[0], k=10)
    rss = _rss_mb()
    since, until = month_filter(snap.dates)
    readable = list(COLLECTIONS[::2])
    reader = a.within(readable)
    queries = {
        "hybrid": timed(lambda q: a.search(q, k=10), questions),
        "hybrid, date filter (1 month)": timed(lambda q: a.search(q, k=10, since=since, until=until), questions),
        "hybrid, collections restricted (2 of 4)": timed(lambda q: reader.search(q, k=10), questions),
        # The baseline: the same work at every size, so a busy machine shows in it too.
        "query embedding alone": timed(a.embedder.encode_query, questions),
    }
    return a, Reader(len(snap.ids), round(model_s, 2), round(load_s, 2), round(rss), queries,
                     {"since": since, "until": until, "readable": readable})


def change(a: Assistant, store_dir: Path) -> Change:
    """One real file ingested beside reader `a` (as the chat ingests an upload: same process,
    model loaded), then removed; each timed until `a`'s searches see it."""
    from ingest import ingest, remove

    refreshes: list[float] = []
    original = Snapshot.refresh

    def refresh(store: Store) -> Snapshot:
        begin = time.perf_counter()
        try:
            return original(store)
        finally:
            refreshes.append(time.perf_counter() - begin)

    # The copies have no sentence vectors saved, and the first sync would encode every copy's
    # (hours at 1M): adding a file is timed as before, without them.
    settings = Settings(store=store_dir, sentence_vectors=False)
    with tempfile.TemporaryDirectory(prefix="scale-add-") as tmp, mock.patch.object(Snapshot, "refresh", refresh):
        path = Path(tmp) / FILE.name
        shutil.copy(FILE, path)
        start = time.perf_counter()
        assert ingest([path], settings).ok
        add_s, add_refresh = time.perf_counter() - start, sum(refreshes)
        refreshes.clear()
        add_seen = _until_seen(a, True)
        refreshes.clear()
        start = time.perf_counter()
        assert remove([path], settings).ok
        remove_s, remove_refresh = time.perf_counter() - start, sum(refreshes)
        remove_seen = _until_seen(a, False)
    return Change(round(add_s, 2), round(add_refresh, 2), round(add_seen, 2),
                  round(remove_s, 2), round(remove_refresh, 2), round(remove_seen, 2), round(_rss_mb("VmHWM")))


def disk_mb(folder: Path) -> dict[str, float]:
    sizes = {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in folder.iterdir() if p.is_dir()}
    sizes["total"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return {k: round(v / 2**20) for k, v in sizes.items()}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


QUERIES = ("hybrid", "hybrid, date filter (1 month)", "hybrid, collections restricted (2 of 4)",
           "query embedding alone")


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| chunks | reader RSS MiB | snapshot load s | hybrid p50/p95 ms | date filter p50/p95 ms "
            "| 2 of 4 collections p50/p95 ms | query embedding alone p50/p95 ms | add file s (refresh s) "
            "| remove s (refresh s) | disk MiB |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        got = r["reader"]
        q = got.get("queries", {})
        pair = [f"{q[k]['p50']:.0f} / {q[k]['p95']:.0f}" if k in q else "-" for k in QUERIES]
        lines.append(f"| {r['grown']['chunks']:,} | {got.get('rss_mb', '-')} | {got.get('load_s', '-')} | "
                     + " | ".join(pair) + f" | {got.get('add_s', '-')} ({got.get('add_refresh_s', '-')}) | "
                     f"{got.get('remove_s', '-')} ({got.get('remove_refresh_s', '-')}) | {r['disk_mb']['total']:,} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, required=True, help="the store to grow (created if missing)")
    p.add_argument("--source", type=Path, action="append", default=[], help="a store to copy chunks from")
    p.add_argument("--questions", type=Path, required=True, help="JSONL with a `question` field")
    p.add_argument("-n", type=int, default=50, help="questions to time")
    p.add_argument("--checkpoints", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    p.add_argument("--step", choices=("grow", "read"), help=argparse.SUPPRESS)  # one child process's job
    p.add_argument("--resume", action="store_true", help="keep --out's checkpoints and measure only the others")
    p.add_argument("--table", action="store_true", help="print the table of --out's results, measure nothing")
    args = p.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())["checkpoints"]))
        return
    offline_env()
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines()][: args.n]
    if args.step == "grow":
        print(json.dumps(asdict(grow(args.store, args.source, args.checkpoints[0]))))
        return
    if args.step == "read":
        a, reader = read(args.store, questions)
        print(json.dumps(asdict(reader)), flush=True)  # kept should the change below fail (memory)
        print(json.dumps(asdict(change(a, args.store))))
        return

    def child(step: str, target: int) -> dict[str, Any]:
        # Its own process: the builder's memory and Chroma client never reach the reader's.
        cmd = [sys.executable, "-m", "benchmarks.scale", "--step", step, "--store", str(args.store),
               "--questions", str(args.questions), "-n", str(args.n), "--checkpoints", str(target)]
        cmd += [a for s in args.source for a in ("--source", str(s))]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(done.stdout)
        got: dict[str, Any] = {}
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                got.update(json.loads(line))
        if done.returncode:  # -9: killed, as the kernel kills a process for memory
            got["error"] = f"{step} exited with {done.returncode}"
        return got

    results: dict[str, Any] = {"machine": {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
                                           "python": platform.python_version()},
                               "questions": len(questions), "started": _now(), "checkpoints": []}
    if args.resume and args.out.exists():  # the same store's earlier checkpoints, measured before
        results = json.loads(args.out.read_text())
        results["resumed"] = results.get("resumed", []) + [_now()]
    done_at = {r["grown"]["chunks"] for r in results["checkpoints"]}
    for target in (t for t in args.checkpoints if t not in done_at):
        print(f"growing to {target} chunks", flush=True)
        grown = child("grow", target)
        seen = child("read", target) if "error" not in grown else {}
        results["checkpoints"].append({"at": _now(), "grown": grown, "reader": seen,
                                       "disk_mb": disk_mb(args.store)})
        results["finished"] = _now()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")  # after each checkpoint: a cut run keeps them
        print(table(results["checkpoints"]), flush=True)
        if "error" in grown or "error" in seen:
            raise SystemExit(f"stopped at {target} chunks: {grown.get('error') or seen.get('error')}")
    first = results["checkpoints"][0]
    # Growth against the first checkpoint, measured in the same run.
    for r in [r for r in results["checkpoints"][1:] if "add_s" in r["reader"]]:
        x = r["reader"]["chunks"] / first["reader"]["chunks"]
        ratios = {k: round(r["reader"][k] / max(first["reader"][k], 1e-9), 2)
                  for k in ("rss_mb", "load_s", "add_s", "add_refresh_s")}
        ratios["hybrid p50"] = round(r["reader"]["queries"]["hybrid"]["p50"]
                                     / first["reader"]["queries"]["hybrid"]["p50"], 2)
        print(f"{x:.1f}x the chunks: " + ", ".join(f"{k} {v}x" for k, v in ratios.items()))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    main()

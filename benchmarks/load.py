"""Load: concurrent clients asking the served app over HTTP, against one client alone; or what
saving conversations adds to an answer.

Starts `assistant chat` (the Gradio chat and the HTTP API, one process, extractive backend)
on 127.0.0.1, then asks `POST /api/ask` with the sample questions:
  - baseline: one client for --baseline seconds;
  - load: --clients clients at once for --seconds seconds.
Prints requests, errors, requests/s, p50/p95 latency of each phase and their ratio, and the
server's resident memory sampled every second: at the start, the end, the peak, and the
growth over the second half of the load (a server that leaks grows there; one that has
warmed up does not).

    python -m benchmarks.load --store .store/sample --clients 20 --seconds 60

With --against SETTING=VALUE, or --against-code DIR (a checkout of an earlier commit, whose
code the first server runs), measures that twice: first a server with the setting (the
baseline: `--against sentence_cache_mb=0` answers without remembered sentence vectors), then the
default one, and prints the ratios of answers/s and p50 alone and under load.

With --saving, starts two servers on the same store side by side, `save_conversations` off
and on (each with a fresh SQLite state database beside the store), warms both up with every
question, then one client asks each question of both in turn (off on, on off, ...) for
--seconds. Prints each server's requests, p50/p95 and seconds spent answering, the p50
difference in ms (with a 95% bootstrap interval over the question pairs) and ratio, the
conversations and turns each wrote (the saving one: one per answer; the other: none), and
PASS or FAIL against --bar-ms:

    python -m benchmarks.load --saving --seconds 120 --out benchmarks/results/load-saving.json
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import load_saving
from benchmarks.served import ask, ingest, rss_mb, serving, summary

ROOT = Path(__file__).resolve().parent.parent


def phase(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        n = i
        while time.monotonic() < deadline:
            took, error, _ = ask(url, questions[n % len(questions)])
            n += clients
            with lock:
                (errors.append(error) if error else latencies.append(took))

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(latencies, errors, time.monotonic() - start, clients)


def load(store: Path, questions: list[str], clients: int, seconds: float, baseline: float,
         env: dict[str, str] | None = None, code: Path | None = None) -> dict[str, Any]:
    with serving(store, env, code) as (server, url):
        ask(url, questions[0])  # warm-up: the first answer loads the snapshot
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - t0, rss_mb(server.pid)))
                stop.wait(1.0)

        base = phase(url, questions, 1, baseline)
        print("baseline", json.dumps(base), flush=True)
        sampler = threading.Thread(target=sample)
        sampler.start()
        loaded = phase(url, questions, clients, seconds)
        stop.set()
        sampler.join()
        print("load", json.dumps(loaded), flush=True)
    half = [m for t, m in samples if t >= samples[-1][0] / 2]
    memory = {"start_mb": round(samples[0][1], 1), "end_mb": round(samples[-1][1], 1),
              "peak_mb": round(max(m for _, m in samples), 1),
              "second_half_growth_mb": round(half[-1] - half[0], 1)}
    return {"baseline": base, "load": loaded, "memory": memory,
            "p50_ratio_load_vs_alone": round(loaded["p50_ms"] / base["p50_ms"], 2)
            if loaded["p50_ms"] and base["p50_ms"] else None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, default=ROOT / ".store" / "sample", help="an ingested store")
    p.add_argument("--archive", type=Path, default=ROOT / "examples" / "archive",
                   help="ingested into --store first (a no-op when unchanged)")
    p.add_argument("--questions", type=Path, default=ROOT / "examples" / "questions.jsonl")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60,
                   help="of the load; with --saving, of both servers asked in turn")
    p.add_argument("--baseline", type=float, default=15, help="seconds of one client alone")
    p.add_argument("--saving", action="store_true", help="compare servers saving conversations and not")
    p.add_argument("--bar-ms", type=float, default=10, help="with --saving: the most saving may add to p50")
    p.add_argument("--against", action="append", default=[], metavar="SETTING=VALUE",
                   help="first measure a server with this setting (repeatable; e.g. sentence_cache_mb=0), "
                        "then the default one, and print the ratios")
    p.add_argument("--against-code", type=Path, metavar="DIR",
                   help="first measure a server running the code in DIR (a git worktree of an earlier commit: "
                        "git worktree add --detach DIR REV), then this checkout's, and print the ratios")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args()

    ingest(args.archive, args.store)
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    if args.saving:
        result = load_saving.run(args.store, questions, args.seconds, args.bar_ms)
    elif args.against or args.against_code:
        result = against(args, questions)
    else:
        result = load(args.store, questions, args.clients, args.seconds, args.baseline)
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.saving:
        print(result["verdict"], f"(p50 off {result['off']['p50_ms']} ms, on {result['on']['p50_ms']} ms, "
              f"difference {result['p50_diff_ms']} ms, bar {args.bar_ms} ms)")
        return 0 if result["verdict"] == "PASS" else 1
    runs = [result["before"], result["after"]] if args.against or args.against_code else [result]
    return 1 if any(r["load"]["errors"] or r["baseline"]["errors"] for r in runs) else 0


def against(args: argparse.Namespace, questions: list[str]) -> dict[str, Any]:
    """The same load on a server with the --against settings or the --against-code checkout (the
    baseline), then on the default one, one after the other in this process: what a change
    behind a setting, or a change of code, buys."""
    env = {f"ASSISTANT_{k.strip().upper()}": v.strip() for k, _, v in (a.partition("=") for a in args.against)}
    before = load(args.store, questions, args.clients, args.seconds, args.baseline, env, args.against_code)
    after = load(args.store, questions, args.clients, args.seconds, args.baseline)
    return {"against": env, "against_code": str(args.against_code) if args.against_code else None,
            "before": before, "after": after,
            "answers_per_s_ratio": round(after["load"]["requests_per_s"] / before["load"]["requests_per_s"], 2)
            if before["load"]["requests_per_s"] else None,
            "p50_alone_ratio": round(after["baseline"]["p50_ms"] / before["baseline"]["p50_ms"], 2)
            if before["baseline"]["p50_ms"] else None,
            "p50_load_ratio": round(after["load"]["p50_ms"] / before["load"]["p50_ms"], 2)
            if before["load"]["p50_ms"] else None}


if __name__ == "__main__":
    raise SystemExit(main())

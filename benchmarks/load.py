"""Load: concurrent clients asking the served app over HTTP, against one client alone.

Starts `assistant chat` (the Gradio chat and the HTTP API, one process, extractive backend)
on 127.0.0.1, then asks `POST /api/ask` with the sample questions:
  - baseline: one client for --baseline seconds;
  - load: --clients clients at once for --seconds seconds.
Prints requests, errors, requests/s, p50/p95 latency of each phase and their ratio, and the
server's resident memory sampled every second: at the start, the end, the peak, and the
growth over the second half of the load (a server that leaks grows there; one that has
warmed up does not).

    python -m benchmarks.load --store .store/sample --clients 20 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ask(url: str, question: str) -> tuple[float, str | None]:
    """(seconds, None) for a good answer; (seconds, why) for an error."""
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(f"{url}/api/ask", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        error = None if "answer" in answer and "citations" in answer else f"unexpected reply {str(answer)[:200]}"
    except urllib.error.HTTPError as e:
        error = f"HTTP {e.code}: {e.read()[:200]!r}"
    except Exception as e:  # a refused or dropped connection counts as an error too
        error = f"{type(e).__name__}: {e}"
    return time.perf_counter() - start, error


def phase(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        n = i
        while time.monotonic() < deadline:
            took, error = ask(url, questions[n % len(questions)])
            n += clients
            with lock:
                (errors.append(error) if error else latencies.append(took))

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    lat = sorted(latencies)
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(lat) + len(errors), "errors": len(errors),
        "first_errors": errors[:3], "requests_per_s": round((len(lat) + len(errors)) / wall, 2),
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p95_ms": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, default=ROOT / ".store" / "sample", help="an ingested store")
    p.add_argument("--archive", type=Path, default=ROOT / "examples" / "archive",
                   help="ingested into --store first (a no-op when unchanged)")
    p.add_argument("--questions", type=Path, default=ROOT / "examples" / "questions.jsonl")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--baseline", type=float, default=15, help="seconds of one client alone")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "ANONYMIZED_TELEMETRY": "False"}
    cli = [sys.executable, "-m", "assistant"]
    subprocess.run([*cli, "ingest", str(args.archive), "--store", str(args.store), "--quiet"], env=env, check=True)
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*cli, "chat", "--store", str(args.store), "--port", str(port), "--llm", "extractive"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if server.poll() is not None:
                why = server.stderr.read().decode()[-2000:] if server.stderr else ""
                raise SystemExit(f"the server stopped: {why}")
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        ask(url, questions[0])  # warm-up: the first answer loads the snapshot
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - t0, rss_mb(server.pid)))
                stop.wait(1.0)

        base = phase(url, questions, 1, args.baseline)
        print("baseline", json.dumps(base), flush=True)
        sampler = threading.Thread(target=sample)
        sampler.start()
        load = phase(url, questions, args.clients, args.seconds)
        stop.set()
        sampler.join()
        print("load", json.dumps(load), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    half = [m for t, m in samples if t >= samples[-1][0] / 2]
    memory = {"start_mb": round(samples[0][1], 1), "end_mb": round(samples[-1][1], 1),
              "peak_mb": round(max(m for _, m in samples), 1),
              "second_half_growth_mb": round(half[-1] - half[0], 1)}
    result = {"baseline": base, "load": load, "memory": memory,
              "p50_ratio_load_vs_alone": round(load["p50_ms"] / base["p50_ms"], 2)
              if load["p50_ms"] and base["p50_ms"] else None}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if load["errors"] or base["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Encoding an answer's sentences: `Embedder.encode` (batches of 64 padded to their longest, as
answers did) against `Embedder.encode_sentences` (16 at a time, padded to a multiple of 16 word
pieces): seconds and the process's resident memory after the same batches.

Each way runs in a fresh process of its own (memory is per process), alternately, --runs times
each; the batches are the sample archive's sentences (or --source's .md/.txt files), drawn at
random in answer-sized groups (20 to 70 sentences), the same draw for both.

    python -m benchmarks.sentence_shapes --batches 200 --runs 2
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def batches(source: Path, count: int, seed: int = 1) -> list[list[str]]:
    from assistant.index.text import units

    sentences = [s for p in sorted(source.rglob("*")) if p.suffix in (".md", ".txt")
                 for s in units(p.read_text(encoding="utf-8"), headings=False) if len(s.split()) >= 5]
    rng = random.Random(seed)
    return [rng.sample(sentences, min(len(sentences), rng.randint(20, 70))) for _ in range(count)]


def one(way: str, source: Path, count: int) -> dict[str, float]:
    """In this process: load the model, encode the batches one way, report seconds and RSS."""
    from assistant.index.onnx_encoder import choose_embedder
    from assistant.settings import Settings

    settings = Settings.load()
    embedder = choose_embedder(settings.embed_model, settings.embed_dtype, settings.device, settings.embed_runtime)
    work = batches(source, count)
    encode = embedder.encode if way == "encode" else embedder.encode_sentences
    encode(work[0])  # warm-up
    start_mb = rss_mb()
    start = time.perf_counter()
    for texts in work:
        encode(texts)
    return {"seconds": round(time.perf_counter() - start, 2), "rss_start_mb": start_mb, "rss_end_mb": rss_mb(),
            "sentences": sum(len(b) for b in work)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, default=ROOT / "examples" / "archive")
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--one", choices=["encode", "sentences"], help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.source, args.batches)))
        return 0
    runs: dict[str, list[dict[str, float]]] = {"encode": [], "sentences": []}
    for _ in range(args.runs):
        for way in runs:
            done = subprocess.run([sys.executable, "-m", "benchmarks.sentence_shapes", "--one", way, "--source",
                                   str(args.source), "--batches", str(args.batches)],
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            runs[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(way, runs[way][-1], flush=True)
    med = {w: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for w, rs in runs.items()}
    result = {"runs": runs, "median": med,
              "seconds_ratio": round(med["sentences"]["seconds"] / med["encode"]["seconds"], 2),
              "rss_growth_mb": {w: round(m["rss_end_mb"] - m["rss_start_mb"], 1) for w, m in med.items()}}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

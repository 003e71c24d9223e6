"""The LlamaIndex integration (issue 25): ArchiveRetriever and the query engine over real stores
and the real embedding model; retrieval scored by llama-index's own RetrieverEvaluator."""

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.accounts.principal import Principal, Role
from assistant.integrations.llama_index import ArchiveRetriever, ChatModelLLM, archive_query_engine
from assistant.testing import ScriptedLLM
from evals import corpora
from evals import llama_index as li_eval

from conftest import ROOT

WHY = "Why did Marvala reject the 2023 OHCHR report?"
# A sentence of the Ministry's statement (statements/2023-08-16-mfa-statement-ohchr-report.md).
QUOTE = ("The Government rejects the report because, in its view, the OHCHR relied on unverified claims "
         "supplied by non-governmental organisations")
REFUSAL = (ROOT / "prompts" / "refusal.txt").read_text().strip()


@pytest.fixture(scope="module")
def archive(sample_store: Path) -> Assistant:
    return Assistant(store=sample_store)


def test_nodes_are_our_passages_with_their_metadata_and_chunk_ids(archive: Assistant) -> None:
    nodes = ArchiveRetriever(archive, k=5).retrieve(WHY)
    passages = archive.search(WHY, 5)
    assert [n.node.node_id for n in nodes] == [p.id for p in passages]
    assert [n.score for n in nodes] == [p.score for p in passages]
    first, p = nodes[0].node, passages[0]
    assert first.get_content() == p.text and first.ref_doc_id == p.doc_id
    assert {k: first.metadata.get(k) for k in ("title", "date", "source", "url", "path", "doc_id", "collection")} \
        == {"title": p.title, "date": p.date, "source": p.source, "url": p.url, "path": p.path, "doc_id": p.doc_id,
            "collection": "main"}
    assert first.metadata["chunk"] == p.chunk and "page" not in first.metadata  # Markdown: no page, no key
    shown = first.get_content(metadata_mode="llm")  # what a llama-index synthesizer puts in its prompt
    assert p.title in shown and p.path not in shown
    assert [n.node.node_id for n in asyncio.run(ArchiveRetriever(archive, k=5).aretrieve(WHY))] == \
        [p.id for p in passages]


def test_filters_and_the_callers_collections_are_kept(archive: Assistant, sample_store: Path) -> None:
    dated = ArchiveRetriever(archive, since="2023-08", until="2023-08").retrieve(WHY)
    assert dated and all(n.node.metadata["date"].startswith("2023-08") for n in dated)
    source = dated[0].node.metadata["source"]
    assert {n.node.metadata["source"] for n in ArchiveRetriever(archive, source=source).retrieve(WHY)} == {source}
    # The sample archive is all in "main": a caller who may read only other collections finds nothing.
    reader = Principal("ann", Role.READER, frozenset({"drafts"}), frozenset())
    assert ArchiveRetriever(archive, collections=reader).retrieve(WHY) == []
    assert ArchiveRetriever(sample_store, collections=["drafts"]).retrieve(WHY) == []
    admin = Principal("root", Role.ADMIN, None, None)
    assert ArchiveRetriever(archive, collections=admin).retrieve(WHY)
    assert ArchiveRetriever(archive, collections=["main", "drafts"]).retrieve(WHY)
    with pytest.raises(Exception, match="Cannot read the date"):
        ArchiveRetriever(archive, since="last spring")


def engine_answer(sample_store: Path, replies: list[str], question: str = WHY) -> tuple[Any, ScriptedLLM]:
    llm = ScriptedLLM(replies)
    return archive_query_engine(sample_store, llm=ChatModelLLM(llm)).query(question), llm


def test_the_query_engine_answers_with_our_prompt_and_cites_source_nodes(sample_store: Path) -> None:
    response, llm = engine_answer(sample_store, [f"{QUOTE} [1]."])
    # Our prompt went through the llama-index LLM whole: rules with the refusal, example, passages.
    system, *_, user = llm.calls[0]
    assert system["role"] == "system" and REFUSAL in system["content"]
    assert user["content"].startswith("Passages:\n[1] ") and user["content"].rstrip().endswith(f"Question: {WHY}")
    answer = response.metadata["answer"]
    assert response.response == answer.text == f"{QUOTE} [1]."
    assert not response.metadata["refused"] and response.metadata["grounded"] and answer.backend == "llama-index"
    assert response.metadata["citations"] == answer.citations and len(answer.citations) == 1
    cited = response.source_nodes[0].node
    assert len(response.source_nodes) == 1 and cited.metadata["citation"] == 1
    assert cited.metadata["path"].endswith("2023-08-16-mfa-statement-ohchr-report.md")
    assert cited.get_content() == answer.citations[0].text
    assert cited.node_id in {n.node.node_id for n in ArchiveRetriever(sample_store, k=10).retrieve(WHY)}
    # The same answer as the Python API gives with the same model: the answering layer is shared.
    direct = Assistant(store=sample_store, llm=ScriptedLLM([f"{QUOTE} [1]."])).ask(WHY)
    assert (direct.text, direct.citations, direct.claims) == (answer.text, answer.citations, answer.claims)


def test_the_query_engine_checks_claims_and_refuses_what_the_archive_lacks(sample_store: Path) -> None:
    response, _ = engine_answer(sample_store, ["Marvala's capital has four million people [1]."])
    assert not response.metadata["grounded"] and not response.metadata["answer"].claims[0].supported
    response, llm = engine_answer(sample_store, [], "Which smartphone sold best in Sennport in 2023?")
    assert response.metadata["refused"] and response.response == REFUSAL and response.source_nodes == []
    assert llm.calls == []  # the relevance gate refused: the LLM was not asked
    response = asyncio.run(archive_query_engine(sample_store, llm=ChatModelLLM(ScriptedLLM([f"{QUOTE} [1]."])))
                           .aquery(WHY))
    assert response.response == f"{QUOTE} [1]."


def test_a_chat_model_as_a_llama_index_llm() -> None:
    llm = ChatModelLLM(ScriptedLLM(["Hello there.", "Hi again."], piece=3), max_tokens=50)
    assert llm.complete("Say hello.").text == "Hello there."
    assert [r.delta for r in llm.stream_complete("Again.")] == ["Hi ", "aga", "in."]
    assert llm.metadata.context_window == 2048 and llm.metadata.is_chat_model


def test_importing_the_package_loads_no_llama_index() -> None:
    code = ("import sys, assistant, assistant.service, assistant.integrations; "
            "print([m for m in sys.modules if m.startswith('llama_index')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_retrieved_documents_are_keyed_as_gold_evidence_names_them(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    md = str(docs / "news" / "a.md")
    assert li_eval.document_key(md, md, docs) == "news/a.md"  # cambodia's gold_docs, "docs/" removed
    assert li_eval.document_key(str(docs / "un" / "recs.jsonl"), "rec-7", docs) == "un/recs.jsonl#rec-7"


# Cambodia (../shared): the three retrievers at the same k, in one run (evals/llama_index.py).
@pytest.fixture(scope="module")
def compared(shared: Path, cambodia_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    corpus = corpora.load(shared / "corpora" / "cambodia")
    rows = li_eval.compare(corpus, "dev", cambodia_store, tmp_path_factory.mktemp("vector-index"))
    return {r["retriever"]: r for r in rows}


def test_archive_retriever_scores_as_our_search_and_beats_a_plain_vector_index(compared: dict[str, Any]) -> None:
    ours, plain, own = (compared[n] for n in ("ArchiveRetriever", "VectorStoreIndex (plain)", "Assistant.search (ours)"))
    assert ours["questions"] == plain["questions"] == own["questions"] >= 4
    assert ours["hit_rate"] >= own["hit_rate"] and ours["mrr"] >= own["mrr"]
    # llama-index's expected ids (gold documents) and evals/retrieval.py's hits agree, question by question.
    assert ours["first_gold_rank"] == own["first_gold_rank"]
    assert ours["hit_rate"] >= plain["hit_rate"] and ours["mrr"] > plain["mrr"]
    assert ours["hit_rate"] == 1.0


def test_the_readme_example_runs_with_a_real_llama_index_llm(sample_store: Path, capsys) -> None:
    """The README's LlamaIndex block, with llama-index's Ollama class talking to a stub server."""
    from assistant.testing import OllamaStub

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [code] = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "archive_query_engine(" in b]
    assert code.count(".store/sample") == 1 and code.count("http://127.0.0.1:11434") == 1
    with OllamaStub([f"{QUOTE} [1]."]) as stub:
        scope: dict[str, Any] = {}
        exec(code.replace(".store/sample", str(sample_store)).replace("http://127.0.0.1:11434", stub.url), scope)
    assert stub.requests and stub.requests[0]["messages"][0]["role"] == "system"
    out = capsys.readouterr().out
    assert f"{QUOTE} [1]." in out and "1 Statement of the Ministry of Foreign Affairs" in out
    assert scope["answer"].grounded and scope["answer"].backend == "llama-index"

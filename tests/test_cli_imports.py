"""Cold start: each command imports what it needs and no more (a real process each time, its
sys.modules read at exit). Heavy packages cost seconds before the first word: torch ~1 s,
transformers with sentence-transformers ~3.5 s, Gradio and llama-index more. `ask` needs the model,
so it runs it in ONNX Runtime (without torch, transformers or sentence-transformers) where the
model's export exists, which the first `ask` makes where it does not; the rest it must not."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Written at exit, after the command ran: every module the process imported.
DRIVER = """
import atexit, json, sys
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules))))
from assistant.app.cli import main
try:
    sys.exit(main(sys.argv[2:]))
except SystemExit as e:  # --help exits from argparse
    sys.exit(e.code)
"""
# Never for a command-line answer on a local store: a UI, an LLM framework, the accounts' database,
# Chroma's HTTP client.
NEVER = ["gradio", "llama_index.core", "sqlalchemy", "alembic", "argon2", "chromadb.api.fastapi"]
MODEL = ("torch", "tokenizers", "safetensors", "transformers", "sentence_transformers")


def imported(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", DRIVER, str(out), *args], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the command printed nothing"
    modules = set(json.loads(out.read_text()))
    assert "assistant.app.cli" in modules  # the driver really ran the command
    return modules


@pytest.mark.parametrize("args", [["--help"], ["config"], ["status"]])
def test_help_config_and_status_load_no_model_ui_server_client_or_database(
        tmp_path: Path, sample_store: Path, args: list[str]) -> None:
    modules = imported(tmp_path, *args, *(["--store", str(sample_store)] if args != ["--help"] else []))
    assert not {m for m in modules if m.split(".")[0] in MODEL}
    assert not [m for m in NEVER if m in modules]
    if args == ["status"]:  # it reads the local store, through Chroma's own client alone
        assert "chromadb.api.rust" in modules


def test_ask_on_a_local_store_runs_the_model_in_onnx_runtime_without_torch_ui_or_database(
        tmp_path: Path, sample_store: Path) -> None:
    modules = imported(tmp_path, "ask", "Why did Marvala reject the OHCHR report?", "--store", str(sample_store))
    assert "onnxruntime" in modules  # the answer came from the model, its export (tests/conftest.py)
    assert not {m for m in modules if m.split(".")[0] in ("torch", "transformers", "sentence_transformers")}
    assert not [m for m in NEVER if m in modules]


def test_without_the_export_ask_uses_torch_then_makes_it_for_the_next(tmp_path: Path, sample_store: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no export made here yet
    question = ["ask", "Who chairs the Inter-Ministerial Task Force on Detention Reform?", "--store", str(sample_store)]
    first = imported(tmp_path, *question, env=env)
    assert "torch" in first and "sentence_transformers" in first
    assert list((tmp_path / "cache" / "report-assistant" / "onnx").glob("*.onnx"))  # made after the answer
    assert "torch" not in imported(tmp_path, *question, env=env)
    # Either engine, the same answer from the same sources (bf16 torch or float32 ONNX vectors).
    answers = [subprocess.run([sys.executable, "-m", "assistant", *question, "--json"], capture_output=True,
                              text=True, timeout=300, env={**env, "ASSISTANT_EMBED_RUNTIME": runtime})
               for runtime in ("torch", "onnx")]
    assert all(a.returncode == 0 for a in answers), [a.stderr for a in answers]
    torch_answer, onnx_answer = (json.loads(a.stdout) for a in answers)
    assert [c["doc_id"] for c in onnx_answer["citations"]] == [c["doc_id"] for c in torch_answer["citations"]]
    assert onnx_answer["answer"].split(". ")[0] == torch_answer["answer"].split(". ")[0]
    assert "Corentin Daalberg" in onnx_answer["answer"]


def test_an_unwritable_cache_costs_speed_not_the_answer(tmp_path: Path, sample_store: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the cache "folder" is a file: nothing can be saved under it
    done = subprocess.run([sys.executable, "-m", "assistant", "ask", "Who chairs the Inter-Ministerial Task Force on "
                           "Detention Reform?", "--store", str(sample_store)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "XDG_CACHE_HOME": str(blocked)})
    assert done.returncode == 0 and "Corentin Daalberg" in done.stdout
    assert "Could not save the model's ONNX export" in done.stderr and "XDG_CACHE_HOME" in done.stderr
    assert "Traceback" not in done.stderr


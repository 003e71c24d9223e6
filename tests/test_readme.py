"""The README's code runs as written: the Python API example, the OpenAI-client example against
the served chat, and the example settings file. Users copy these first; they must not rot."""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from assistant.settings import Settings

from conftest import ROOT, SAMPLE

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(language: str, containing: str) -> str:
    """The README's one fenced block in `language` that contains `containing`."""
    found = [b for b in re.findall(rf"```{language}\n(.*?)```", README, flags=re.S) if containing in b]
    assert len(found) == 1, f"{len(found)} {language} blocks contain {containing!r}"
    return found[0]


def test_the_first_example_runs_as_written(sample_store: Path) -> None:
    """The README's opening `assistant ask`, on the store `make chat` builds (the session's copy
    of the sample archive here; .venv/bin/assistant is this interpreter's `-m assistant`)."""
    first = next(line for line in README.splitlines() if line.startswith("$ .venv/bin/assistant ask"))
    argv = shlex.split(first[2:])
    assert argv[0] == ".venv/bin/assistant" and argv[-2:] == ["--store", ".store/sample"]
    run = subprocess.run([sys.executable, "-m", "assistant", *argv[1:-1], str(sample_store)], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    shown = README.split(first, 1)[1].split("```", 1)[0]  # the output the README shows
    assert shown.strip().splitlines()[0][:60] in run.stdout
    assert "[1] Statement of the Ministry of Foreign Affairs" in run.stdout


def test_the_python_api_example_runs_as_written(tmp_path: Path) -> None:
    code = block("python", "from assistant import Assistant")
    shutil.copytree(SAMPLE, tmp_path / "examples" / "archive")  # its paths are relative to a checkout
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ASSISTANT_STORE", None)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "16 documents added" in out  # report.summary()
    assert "Special Rapporteur" in out  # a citation of the visit question: `c.n, c.title, c.page`
    assert re.search(r"^0\.\d+ .+$", out, flags=re.M)  # search results: `p.score, p.title`
    assert (tmp_path / ".store" / "sample").is_dir()


def test_the_openai_client_example_runs_against_the_served_chat(chat_server) -> None:
    code = block("python", "from openai import OpenAI").replace("http://127.0.0.1:7860", chat_server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the README's own code
    text = out.getvalue()
    assert "rejects the OHCHR report" in text  # the completion's content
    assert re.search(r"^1 .+ (https?://|/)", text, flags=re.M)  # its citations: n, title, url or path
    assert "Sennport" in text  # the streamed answer


def test_the_example_settings_file_is_valid(tmp_path: Path) -> None:
    toml = block("toml", "[assistant]")
    (tmp_path / "assistant.toml").write_text(toml)
    settings = Settings.load(tmp_path / "assistant.toml")
    assert settings.top_k == 12 and settings.retrieval == "hybrid" and settings.min_relevance == 0.55


def test_the_team_set_up_runs_as_written(tmp_path: Path, monkeypatch) -> None:
    """The README's set-up for a team, command by command (the chat left out: it serves until
    stopped), on a fresh store; then each user sees what the README says they see."""
    import getpass

    from assistant.accounts import Accounts
    from assistant.app.cli import main
    from assistant.index.store import Store
    from assistant.service import archive_files

    lines = [line.split("#")[0].split() for line in block("sh", "assistant users add amara").splitlines()]
    commands = [argv[1:] for argv in lines if argv and argv[0] == "assistant" and argv[1] != "chat"]
    assert len(commands) == 5
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "a long enough password")
    monkeypatch.chdir(ROOT)
    store = tmp_path / "store"
    for argv in commands:
        assert main([*argv, "--store", str(store), "-q"] if argv[0] == "ingest" else
                    [*argv, "--store", str(store)]) == 0, argv
    settings = Settings(store=store)
    with Accounts.open(settings) as accounts:
        ben, chen = accounts.get("ben"), accounts.get("chen")
        assert accounts.check_password("amara", "a long enough password") is not None
    assert ben is not None and chen is not None and chen.can_write("reports") and not ben.can_read("reports")
    stored = Store.open(settings)
    bens = archive_files(stored, ben.readable)
    assert bens and {f.collection for f in bens} == {"main"} and not any("/reports/" in f.path for f in bens)
    assert any("/reports/" in f.path for f in archive_files(stored, chen.readable))

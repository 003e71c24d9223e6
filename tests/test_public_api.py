"""The public surface is small and pinned; importing it stays light."""

import subprocess
import sys

import assistant
import ingest


def test_public_names_are_pinned() -> None:
    assert sorted(assistant.__all__) == sorted([
        "Assistant", "Answer", "Citation", "Passage", "Settings", "AssistantError", "ConfigError",
        "QuestionError", "StoreError", "StoreMismatchError", "NoStoreError", "StoreBusyError"])
    assert sorted(ingest.__all__) == ["FileResult", "IngestReport", "ingest", "remove"]


def test_importing_assistant_loads_no_gradio_chroma_or_torch() -> None:
    code = "import sys, assistant; print(sorted(m for m in ('gradio', 'chromadb', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_settings_precedence(tmp_path, monkeypatch) -> None:
    from assistant import ConfigError, Settings

    cfg = tmp_path / "a.toml"
    cfg.write_text('[assistant]\ntop_k = 3\nstore = "/from/file"\n')
    monkeypatch.setenv("ASSISTANT_STORE", "/from/env")
    s = Settings.load(cfg, top_k=None)
    assert s.top_k == 3 and str(s.store) == "/from/env"
    assert Settings.load(cfg, store="/from/arg").store.as_posix() == "/from/arg"
    cfg.write_text("nonsense = 1\n")
    try:
        Settings.load(cfg)
    except ConfigError as e:
        assert "Unknown setting" in str(e)
    else:
        raise AssertionError("unknown setting accepted")

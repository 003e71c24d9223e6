"""Shared fixtures: real embedding model, real Chroma in temporary folders, ../shared corpora."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "archive"
SHARED = (ROOT / ".." / "shared").resolve()

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The tests' own cache (the model's ONNX export, server stores' keyword indexes): never the user's,
# so that what a command runs on does not depend on what this machine made before.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="assistant-tests-cache-")


@pytest.fixture(autouse=True)
def no_silent_llamaindex_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama-index's global Settings fall back to OpenAI when a model is not passed: make any
    such fallback fail loudly instead of reaching for the network."""
    try:
        from llama_index.core import settings as li_settings
    except ImportError:
        return

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("something reached for llama-index's global default model")

    monkeypatch.setattr(li_settings, "resolve_llm", refuse, raising=False)
    monkeypatch.setattr(li_settings, "resolve_embed_model", refuse, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh store in a temporary folder, ignoring the user's config."""
    return Settings(store=tmp_path / "store")


@pytest.fixture(scope="session")
def onnx_export() -> Path:
    """The default model's ONNX export in the tests' cache (as `make install` makes it in the
    user's), so that one-shot commands run on ONNX Runtime as they do for a user."""
    from assistant.index import onnx_encoder
    from assistant.index.models import DEFAULT

    made = onnx_encoder.export(DEFAULT)
    assert made is not None and made.is_file()
    return made


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory, onnx_export: Path) -> Path:
    """The sample archive ingested once for the whole session (read-only for tests); the model's
    ONNX export made beside it, as `make install` does."""
    from ingest import ingest

    store = tmp_path_factory.mktemp("sample") / "store"
    report = ingest([SAMPLE], Settings(store=store))
    assert report.ok, report.summary()
    return store


@pytest.fixture
def archive_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample archive, for tests that change files."""
    dest = tmp_path / "archive"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared: skipped where absent (a user's clone), a failure under CI."""
    if not (SHARED / "corpora").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing, and CI must have it")
        pytest.skip("../shared corpora are not here")
    return SHARED


@pytest.fixture(scope="session")
def cambodia_store(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cambodia corpus (../shared) ingested once for the whole session (read-only for tests)."""
    from ingest import ingest

    store = tmp_path_factory.mktemp("cambodia") / "store"
    report = ingest([shared / "corpora" / "cambodia" / "docs"], Settings(store=store))
    assert report.ok, report.summary()
    assert report.documents > 400  # 100 files, one JSONL of 348 recommendations
    return store


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL server for the session (tests/pg.py): skipped where it is not installed
    (`make postgres`), a failure under CI. `.new_database()` gives a fresh database's URL."""
    from pg import postgres

    try:
        with postgres() as server:
            yield server
    except LookupError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e}, and CI must have it")
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def chat_server(sample_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """The chat and the HTTP API served for real on 127.0.0.1 (a free port) over the sample store."""
    from assistant.app.pool import Pool
    from assistant.app.server import build_app, serve

    archive = tmp_path_factory.mktemp("uploads") / "archive"
    with serve(build_app(Pool(Settings(store=sample_store, archive_dir=archive)))) as served:
        yield served


# The fast tier (`make test-fast`: pytest -m "not slow") leaves out, besides tests marked slow by
# hand, those that need the corpora, the browser, a server (HTTP, Chroma, llama.cpp), the bundled
# LLM, a store of their own (the sample store is built once for all), the `assistant` command in a
# subprocess, or the crash loops. Marked here by what a test uses, so that test files need not say.
# test_cli.py and test_cli_imports.py run the command in subprocesses; test_ingest.py builds stores, some with encoder
# processes (4 to 75 s a test on 2 busy cores).
SLOW_FILES = {"test_browser.py", "test_crash.py", "test_cli.py", "test_cli_imports.py", "test_ingest.py"}
SLOW_FIXTURES = {"shared", "browser", "chat_server", "chat", "guarded", "writable_server", "llama_server",
                 "chroma_server", "server", "archive_copy", "big_store", "hostile_store", "pg_server", "team",
                 "team_store", "proxied", "nginx", "mcp_store", "mcp_http"}
SLOW_TESTS = {"test_counting_tokens_while_encoding_is_thread_safe",  # encoders racing: 20-45 s
              "test_the_python_api_example_runs_as_written",  # a fresh interpreter ingests the sample
              "test_wrong_passwords_are_slowed_down"}  # waits out the login throttle


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = getattr(item, "originalname", item.name)
        if "shared" in uses:
            item.add_marker(pytest.mark.shared)
        # test_cli_*: runs the command in a subprocess; a parameter "local": the bundled LLM backend.
        if item.path.name in SLOW_FILES or uses & SLOW_FIXTURES or name in SLOW_TESTS \
                or name.startswith("test_cli_") or any(v == "local" for v in params.values() if isinstance(v, str)):
            item.add_marker(pytest.mark.slow)


BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it (make browser)")
        pytest.skip("chromium is not installed here: `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Playwright gives each launch a fresh temporary user-data-dir of its own.
        b = p.chromium.launch(executable_path=chromium, args=BROWSER_FLAGS)
        yield b
        b.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Conversations and feedback in a fresh state database: SQLite, and a real PostgreSQL."""
    from assistant.accounts import History

    settings = Settings(store=tmp_path / "store")
    if request.param == "postgresql":
        settings = settings.replace(state_url=request.getfixturevalue("pg_server").new_database())
    h = History.open(settings)
    try:
        yield h
    finally:
        h.close()

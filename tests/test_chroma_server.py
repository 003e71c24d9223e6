"""Beyond one machine: a real `chroma run` server on 127.0.0.1, ingested into and queried over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant import Assistant, StoreError
from assistant.settings import Settings
from ingest import ingest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """A real `chroma run` on 127.0.0.1 that a test can stop and start again (same port, same data)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        self.proc = subprocess.Popen([str(chroma), "run", "--path", str(self.data), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, "chroma run exited"
            assert time.monotonic() < deadline, "chroma run did not come up in 60 s"
            time.sleep(0.2)

    def kill(self) -> None:
        """Stopped hard, as a crash or a pulled cable would (SIGKILL: no goodbye to clients)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    s = ChromaServer(tmp_path / "server-data")
    s.start()
    try:
        yield s
    finally:
        s.kill()


@pytest.fixture
def chroma_server(server: ChromaServer) -> str:
    return server.url


def test_ingest_and_answer_through_a_chroma_server(chroma_server: str, archive_copy: Path,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the local keyword index goes here
    settings = Settings(store=tmp_path / "unused", chroma_url=chroma_server)
    report = ingest([archive_copy], settings)
    assert report.ok and report.chunks_in_store > 0 and report.store == chroma_server
    assert not (tmp_path / "unused").exists()  # nothing written to the local store folder
    again = ingest([archive_copy], settings)
    assert again.chunks_embedded == 0 and len(again.unchanged) == 12

    a = Assistant(settings=settings)
    answer = a.ask("Who chairs the Inter-Ministerial Task Force on Detention Reform?")
    assert not answer.refused and any(c.doc_id == "b04" for c in answer.citations)
    assert a.status().chunks == report.chunks_in_store
    assert any((tmp_path / "cache").rglob("meta.json"))

    from ingest import remove

    briefs = str((archive_copy / "news" / "briefs.jsonl").resolve())  # holds b04
    gone = remove([briefs], settings)
    assert [f.path for f in gone.removed] == [briefs] and gone.chunks_in_store < report.chunks_in_store
    answer = Assistant(settings=settings).ask("Who chairs the Inter-Ministerial Task Force on Detention Reform?")
    assert not any(c.doc_id == "b04" for c in answer.citations)
    back = ingest([archive_copy], settings)
    assert [f.path for f in back.added] == [briefs] and back.chunks_in_store == report.chunks_in_store


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="Chroma server"):
        Assistant(settings=settings)
    with pytest.raises(StoreError, match="chroma_url must look like"):
        Assistant(settings=settings.replace(chroma_url="localhost:8000"))


def test_a_server_stopped_mid_query_is_a_clear_error_and_the_assistant_recovers(
        server: ChromaServer, archive_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = Settings(store=tmp_path / "unused", chroma_url=server.url)
    assert ingest([archive_copy], settings).ok
    a = Assistant(settings=settings)
    question = "When did the UN Special Rapporteur visit Sennport?"
    before = a.ask(question)
    assert not before.refused

    # Questions keep coming from another thread while the server is killed under them.
    failures: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def keep_asking() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                a.search(question, k=3)
                answered += 1
            except BaseException as e:  # every kind is checked below
                failures.append(e)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    time.sleep(1.0)
    server.kill()
    time.sleep(1.0)
    stop.set()
    asker.join(timeout=60)
    assert answered > 0 and failures, (answered, failures)
    for e in failures:
        assert isinstance(e, StoreError), repr(e)
        assert server.url in str(e) and "Check that it is running" in str(e)
    with pytest.raises(StoreError, match=f"Lost the connection to the Chroma server at {server.url}"):
        a.ask(question)
    with pytest.raises(StoreError, match="Chroma server"):
        a.status()

    server.start()  # same port, same data: the same Assistant answers again, no restart
    again = a.ask(question)
    assert again.to_dict() == before.to_dict()
    assert a.status().chunks > 0


def test_the_chat_starts_an_empty_archive_on_a_server_without_one(chroma_server: str, archive_copy: Path,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.app.server import new_store
    from assistant.errors import NoStoreError

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = Settings(store=tmp_path / "unused", chroma_url=chroma_server, collection="fresh")
    with pytest.raises(NoStoreError, match="holds no archive yet"):
        Assistant(settings=settings)
    assert new_store(settings) is True and new_store(settings) is False
    a = Assistant(settings=settings)
    assert a.status().chunks == 0 and a.ask("Who chairs the task force?").refused
    assert ingest([archive_copy / "news"], settings).ok
    a.retriever.recheck()
    assert not a.ask("Who chairs the Inter-Ministerial Task Force on Detention Reform?").refused
    assert not (tmp_path / "unused").exists()

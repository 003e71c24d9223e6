"""Beyond one machine: a real `chroma run` server on 127.0.0.1, ingested into and queried over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
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


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server-data"), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "chroma run exited"
            assert time.monotonic() < deadline, "chroma run did not come up in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
    assert a.status()["chunks"] == report.chunks_in_store
    assert any((tmp_path / "cache").rglob("meta.json"))


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="Chroma server"):
        Assistant(settings=settings)
    with pytest.raises(StoreError, match="chroma_url must look like"):
        Assistant(settings=settings.replace(chroma_url="localhost:8000"))

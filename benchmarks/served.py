"""The served app for benchmarks/load.py: `assistant chat` started on a free loopback port, one
`POST /api/ask` timed, and the figures of a run of them."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "assistant"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
       "ANONYMIZED_TELEMETRY": "False"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ingest(archive: Path, store: Path) -> None:
    subprocess.run([*CLI, "ingest", str(archive), "--store", str(store), "--quiet"], env=ENV, check=True)


@contextmanager
def serving(store: Path, env: dict[str, str] | None = None,
            code: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The server process and its URL, once it answers; `env`: extra settings (ASSISTANT_*);
    `code`: another checkout whose code the server runs (a git worktree of an earlier commit)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    elsewhere = {"PYTHONPATH": str(code.resolve())} if code else {}
    command = [*CLI, "chat", "--store", str(store.resolve()), "--port", str(port), "--llm", "extractive"]
    server = subprocess.Popen(command, env={**ENV, **elsewhere, **(env or {})}, cwd=code.resolve() if code else None,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if server.poll() is not None:
                why = server.stderr.read().decode()[-2000:] if server.stderr else ""
                raise SystemExit(f"the server stopped: {why}")
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        yield server, url
    finally:
        server.terminate()
        server.wait(timeout=30)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def ask(url: str, question: str) -> tuple[float, str | None, dict[str, Any]]:
    """(seconds, None, reply) for a good answer; (seconds, why, {}) for an error."""
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(f"{url}/api/ask", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    reply: dict[str, Any] = {}
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            reply = json.loads(response.read())
        error = None if "answer" in reply and "citations" in reply else f"unexpected reply {str(reply)[:200]}"
    except urllib.error.HTTPError as e:
        error = f"HTTP {e.code}: {e.read()[:200]!r}"
    except Exception as e:  # a refused or dropped connection counts as an error too
        error = f"{type(e).__name__}: {e}"
    return time.perf_counter() - start, error, reply if error is None else {}


def summary(latencies: list[float], errors: list[str], wall: float, clients: int) -> dict[str, Any]:
    lat = sorted(latencies)
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(lat) + len(errors), "errors": len(errors),
        "first_errors": errors[:3], "requests_per_s": round((len(lat) + len(errors)) / wall, 2) if wall else None,
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p95_ms": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None,
    }

"""Login and exposure: with a login configured, every route refuses requests without credentials;
without one, the server will not listen beyond the loopback address unless told to."""

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from assistant.app.login import Throttle
from assistant.app.pool import Pool
from assistant.app.server import Login, build_app, check_exposure, serve
from assistant.errors import ConfigError
from assistant.settings import Settings

LOGIN = Login("staff", "s3cret pass", "key-123")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def guarded(sample_store: Path):
    # Wrong logins are not slowed here: this module tries hundreds on purpose (test_security.py
    # tests the throttle).
    app = build_app(Pool(Settings(store=sample_store)), LOGIN, throttle=Throttle(free=10**9))
    with serve(app) as served:
        yield app, served


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, the mounted chat's included."""
    found: list[tuple[str, str]] = []

    def walk(items, prefix: str) -> None:
        for r in items:
            kind = type(r).__name__
            if kind == "_IncludedRouter":
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif kind == "Mount":
                walk(r.routes, prefix + r.path)
            else:
                path = re.sub(r"\{[^}]+\}", "x", prefix + r.path)
                found.extend((m, path) for m in sorted(getattr(r, "methods", None) or ["GET"]))

    walk(app.routes, "")
    return sorted(set(found))


def test_every_route_refuses_requests_without_credentials(guarded) -> None:
    app, served = guarded
    table = routes(app)
    paths = {p for _, p in table}
    # The walk must see all parts: the API, the chat page, and Gradio's own endpoints.
    assert {"/api/ask", "/api/search", "/api/status", "/api/files", "/api/file", "/v1/models", "/v1/chat/completions", "/",
            "/config", "/gradio_api/queue/join", "/gradio_api/upload", "/gradio_api/info"} <= paths
    assert len(table) > 60
    with httpx.Client(base_url=served.url, timeout=30) as c:
        for method, path in table:
            for headers in ({}, basic("staff", "wrong"), basic("intruder", "s3cret pass"),
                            {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!notbase64"}):
                r = c.request(method, path, headers=headers, json={} if method == "POST" else None)
                assert r.status_code == 401, (method, path, headers, r.status_code)
        r = c.get("/api/status")
        assert r.headers["www-authenticate"].startswith("Basic realm=") and "Log in" in r.json()["error"]["message"]


def test_credentials_open_every_part(guarded) -> None:
    _, served = guarded
    with httpx.Client(base_url=served.url, timeout=120) as c:
        assert c.get("/", headers=basic("staff", "s3cret pass")).status_code == 200
        assert c.get("/config", headers=basic("staff", "s3cret pass")).status_code == 200
        assert c.get("/api/status", headers={"Authorization": "Bearer key-123"}).json()["documents"] == 16
        r = c.post("/api/ask", json={"question": "When did the UN Special Rapporteur visit Sennport?"},
                   headers=basic("staff", "s3cret pass"))
        assert r.status_code == 200 and "7 March 2022" in r.json()["answer"]


def test_openai_client_uses_the_api_key(guarded) -> None:
    from openai import AuthenticationError, OpenAI

    _, served = guarded
    ok = OpenAI(base_url=served.url + "/v1", api_key="key-123", max_retries=0)
    done = ok.chat.completions.create(model="report-assistant",
                                      messages=[{"role": "user", "content": "Who chairs the Inter-Ministerial "
                                                 "Task Force on Detention Reform?"}])
    assert "[1]" in (done.choices[0].message.content or "")
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=served.url + "/v1", api_key="nope", max_retries=0).models.list()


def test_login_comes_from_the_environment() -> None:
    assert Login.from_env({}) is None
    login = Login.from_env({"ASSISTANT_UI_USER": "a", "ASSISTANT_UI_PASSWORD": "b"})
    assert login == Login("a", "b", "b")  # the API key defaults to the password
    assert Login.from_env({"ASSISTANT_UI_USER": "a", "ASSISTANT_UI_PASSWORD": "b",
                           "ASSISTANT_API_KEY": "k"}) == Login("a", "b", "k")
    with pytest.raises(ConfigError, match="both"):
        Login.from_env({"ASSISTANT_UI_USER": "a"})


def test_no_login_no_listening_beyond_loopback(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_exposure(host, None, allow_open=False)
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org"):
        with pytest.raises(ConfigError, match="without a login"):
            check_exposure(host, None, allow_open=False)
        check_exposure(host, LOGIN, allow_open=False)
        check_exposure(host, None, allow_open=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_UI_")}
    out = subprocess.run([sys.executable, "-m", "assistant", "chat", "--host", "0.0.0.0", "--store",
                          str(tmp_path / "none")], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("Error: Refusing to serve on 0.0.0.0 without a login") and "--allow-open" in out.stderr

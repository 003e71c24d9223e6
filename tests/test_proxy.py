"""Single sign-on behind an identity-aware proxy: a real nginx in front sets X-Forwarded-User, the
server believes it only from the proxy's address, and a client cannot name another user."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from assistant.accounts import Accounts
from assistant.app.pool import Pool
from assistant.app.server import build_app, serve
from assistant.settings import Settings

SECRETS = {"alpha": "The Orchid bridge reopens on 4 May 2026 after the flood repairs.",
           "beta": "The Quartz tunnel closes on 9 June 2026 for the rail works."}
CONF = """daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
{servers}
}}
"""
SERVER = """  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass {app}; proxy_set_header Host $host; proxy_buffering off;
                 proxy_set_header X-Forwarded-User "{user}"; proxy_set_header X-Forwarded-Proto https; }} }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing, and CI must have it (`make proxy` installs it)")
        pytest.skip("nginx is not installed (`make proxy`)")
    return found


@pytest.fixture(scope="module")
def proxied(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from ingest import ingest

    root = tmp_path_factory.mktemp("proxy")
    store = root / "store"
    for collection, sentence in SECRETS.items():
        folder = root / "docs" / collection
        folder.mkdir(parents=True)
        (folder / f"{collection}.md").write_text(f"# {collection} memo\n\n{sentence}\n", encoding="utf-8")
        assert ingest([folder], Settings(store=store), collection=collection).ok
    settings = Settings(store=store, trusted_user_header="X-Forwarded-User", trusted_proxies="127.0.0.1/32",
                        audit_log=str(root / "audit.jsonl"))
    accounts = Accounts.open(settings)
    accounts.add("ann", "reader", "ann's pass", read=["alpha"])
    accounts.add("bob", "reader", "bob's pass", read=["beta"])
    with serve(build_app(Pool(settings))) as app:
        ports = {"ann": free_port(), "bob": free_port(), "carol": free_port()}
        servers = "".join(SERVER.format(port=p, app=app.url, user=u) for u, p in ports.items())
        (root / "nginx.conf").write_text(CONF.format(d=root, servers=servers), encoding="utf-8")
        proc = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-p", str(root), "-e", "stderr"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", ports["ann"]), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        out = proc.stdout.read() if proc.stdout else b""
                        raise RuntimeError(f"nginx did not start: {out!r}") from None
                    time.sleep(0.1)
            yield {"app": app.url, **{u: f"http://127.0.0.1:{p}" for u, p in ports.items()}}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            accounts.close()


def test_the_proxys_user_sees_their_own_collections(proxied: dict[str, str]) -> None:
    for user, own, other in (("ann", "Orchid", "Quartz"), ("bob", "Quartz", "Orchid")):
        with httpx.Client(base_url=proxied[user], timeout=120) as c:
            # A client naming another user is overruled: the proxy sets the header itself.
            forged = {"X-Forwarded-User": "bob" if user == "ann" else "ann"}
            status = c.get("/api/status", headers=forged)
            assert status.status_code == 200 and status.json()["user"]["name"] == user
            r = c.post("/api/search", json={"query": "When does the bridge reopen or the tunnel close?"},
                       headers=forged)
            assert r.status_code == 200 and own in r.text and other not in r.text
            assert c.get("/", headers={"accept": "text/html"}).status_code == 200


def test_a_user_the_proxy_names_without_an_account_is_refused(proxied: dict[str, str]) -> None:
    r = httpx.get(proxied["carol"] + "/api/status", timeout=30)
    assert r.status_code == 403 and "carol" in r.json()["error"]["message"]


def test_the_header_is_ignored_from_an_untrusted_address(proxied: dict[str, str]) -> None:
    # 127.0.0.2 is this machine too, but not the proxy: its header is not believed.
    with httpx.Client(base_url=proxied["app"], timeout=30,
                      transport=httpx.HTTPTransport(local_address="127.0.0.2")) as c:
        for path in ("/api/status", "/api/files"):
            r = c.get(path, headers={"X-Forwarded-User": "ann"})
            assert r.status_code == 401, (path, r.status_code)

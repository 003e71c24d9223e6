"""The `assistant` command as users and evaluation tooling call it: a real process each time."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import SAMPLE


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_ask_json_contract(sample_store: Path) -> None:
    out = run("ask", "Who chairs the Inter-Ministerial Task Force on Detention Reform?", "--store",
              str(sample_store), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"question", "answer", "refused", "grounded", "standalone_question", "backend",
                         "citations", "claims", "related", "age_note"}
    assert data["refused"] is False and "[1]" in data["answer"] and data["grounded"] is True and data["backend"] == "extractive"
    for c in data["citations"]:
        assert set(c) == {"n", "doc_id", "path", "title", "date", "source", "url", "page", "text", "supporting"}
        assert all(s in c["text"] for s in c["supporting"])
    assert all(set(c) == {"text", "cites", "support", "supported"} for c in data["claims"])
    record = next(c for c in data["citations"] if c["path"].endswith("briefs.jsonl"))
    assert record["doc_id"] == "b04" and record["page"] is None


def test_ask_shows_each_source_from_the_sentence_it_supports(sample_store: Path) -> None:
    question = "What did the Special Rapporteur hear about detention?"
    data = json.loads(run("ask", question, "--store", str(sample_store), "--json").stdout)
    out = run("ask", question, "--store", str(sample_store))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert data["citations"]
    for c in data["citations"]:
        # The line under each source is its excerpt, and it opens with the evidence.
        excerpt = lines[lines.index(next(x for x in lines if x.startswith(f"[{c['n']}] "))) + 1].strip()
        assert any(excerpt.lstrip("…").startswith(" ".join(s.split())[:40]) for s in c["supporting"]), excerpt
    # Some source's evidence is not its passage's opening, so an excerpt of the opening would fail here.
    assert any(not c["text"].startswith(c["supporting"][0][:20]) for c in data["citations"])


def test_a_refusal_shows_the_closest_passages_unless_nothing_is_close(sample_store: Path) -> None:
    near = run("ask", "Who is the President of Marvala?", "--store", str(sample_store))
    assert near.returncode == 0, near.stderr
    assert near.stdout.startswith("The archive does not hold the answer") and "Closest passages" in near.stdout
    data = json.loads(run("ask", "Who is the President of Marvala?", "--store", str(sample_store), "--json").stdout)
    assert data["refused"] is True and data["citations"] == [] and 1 <= len(data["related"]) <= 3
    assert len({(r["path"], r["doc_id"]) for r in data["related"]}) == len(data["related"])  # one a document
    assert all(r["supporting"][0] in r["text"] for r in data["related"])
    far = run("ask", "Who won the 2022 football World Cup?", "--store", str(sample_store))
    assert "does not hold the answer" in far.stdout and "Closest passages" not in far.stdout


def test_search_shows_each_result_where_the_query_matches(sample_store: Path) -> None:
    out = run("search", "unannounced visits", "-k", "3", "--store", str(sample_store))
    assert out.returncode == 0, out.stderr
    excerpts = [line.strip() for line in out.stdout.splitlines() if line.startswith("     ")]
    assert len(excerpts) == 3 and "unannounced visits" in excerpts[0].lower(), excerpts


def test_search_json_contract_and_store_from_environment(sample_store: Path) -> None:
    out = run("search", "press freedom barometer", "-k", "3", "--json",
              env={"ASSISTANT_STORE": str(sample_store)})
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert all(set(r) == {"rank", "score", "doc_id", "path", "title", "page", "text"} for r in results)


def test_ingest_prints_a_summary_and_fails_on_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.md").write_text("---\ntitle: Fine\n---\n\nA readable note about the port.\n")
    (tmp_path / "docs" / "bad.pdf").write_bytes(b"not a pdf")
    out = run("ingest", str(tmp_path / "docs"), "--store", str(tmp_path / "s"), "--quiet")
    assert out.returncode == 1
    assert "1 documents added" in out.stdout and "1 files failed" in out.stdout
    assert "bad.pdf: not a PDF" in out.stdout
    again = run("ingest", str(tmp_path / "docs" / "ok.md"), "--store", str(tmp_path / "s"), "-q")
    assert again.returncode == 0 and "1 unchanged" in again.stdout and "0 embedded" in again.stdout


def test_remove_takes_a_file_out_and_says_what_it_could_not(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("port.md", "dock.md"):
        (docs / name).write_text(f"---\ntitle: {name}\n---\n\nA readable note about the {name[:4]}.\n")
    store = str(tmp_path / "s")
    assert run("ingest", str(docs), "--store", store, "-q").returncode == 0
    out = run("remove", str(docs / "port.md"), str(docs / "never.md"), "--store", store)
    assert out.returncode == 1, out.stderr  # one path matched nothing
    assert f"Removed from {store}: 1 files" in out.stdout and f"removed: {(docs / 'port.md').resolve()}" in out.stdout
    assert f"failed:  {docs / 'never.md'}: not in the store" in out.stdout
    status = json.loads(run("status", "--store", store, "--files", "--json").stdout)
    assert [f["path"] for f in status["ingested_files"]] == [str((docs / "dock.md").resolve())]
    assert run("remove", str(docs), "--store", store).returncode == 0  # a folder: all stored under it
    assert json.loads(run("status", "--store", store, "--json").stdout)["files"] == 0
    # What a removal killed half way leaves (tests/test_crash.py makes it for real): a marked record.
    assert run("ingest", str(docs), "--store", store, "-q").returncode == 0
    from assistant.index.store import REMOVING, Store
    from assistant.settings import Settings

    Store.open(Settings(store=tmp_path / "s")).files.upsert(
        ids=[str((docs / "port.md").resolve())], embeddings=[[1.0]], metadatas=[{REMOVING: True, "sha256": None}])
    out = run("status", "--store", store)
    assert "1 files, 1 documents" in out.stdout  # the half-removed file is not counted as held
    assert f"1 files were being removed when the removal stopped; `assistant remove` them again to finish, " \
           f"or ingest their folder to keep them: {(docs / 'port.md').resolve()}" in out.stdout
    assert run("remove", str(docs / "port.md"), "--store", store).returncode == 0
    assert json.loads(run("status", "--store", store, "--json").stdout)["half_removed"] == []
    nowhere = run("remove", str(docs), "--store", str(tmp_path / "nowhere"))
    assert nowhere.returncode == 1 and nowhere.stderr.startswith("Error: No store at")


def test_errors_are_one_line_and_exit_non_zero(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    for command in ("ingest", "remove"):  # a store that cannot be made where it is asked for
        out = run(command, str(SAMPLE), "--store", str(tmp_path / "a-file" / "store"))
        assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
        assert out.stderr.startswith(f"Error: Cannot write the store at {tmp_path / 'a-file' / 'store'}: Not a directory")
    out = run("ask", "anything", "--store", str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert out.stderr.startswith("Error: No store at") and out.stderr.count("\n") == 1
    empty = run("ask", " ", "--store", str(tmp_path / "nowhere"))
    assert empty.returncode == 1 and "Error:" in empty.stderr


def test_ingest_the_sample_archive_reports_every_document(tmp_path: Path) -> None:
    out = run("ingest", str(SAMPLE), "--store", str(tmp_path / "s"), "-q")
    assert out.returncode == 0, out.stderr
    assert "16 documents added" in out.stdout


def test_status_lists_every_ingested_file(sample_store: Path) -> None:
    out = run("status", "--store", str(sample_store), "--files")
    assert out.returncode == 0, out.stderr
    summary, _, table = out.stdout.partition("\n\n")
    assert "12 files, 16 documents" in summary
    chunks = json.loads(run("status", "--store", str(sample_store), "--json").stdout)["chunks"]
    assert f"Sentences encoded ahead for answers: {chunks} of {chunks} chunks (" in summary
    rows = table.splitlines()[1:]
    on_disk = sorted(str(p.resolve()) for p in SAMPLE.rglob("*") if p.is_file())
    assert [r.split("  ")[-1].strip() for r in rows] == on_disk
    data = json.loads(run("status", "--store", str(sample_store), "--files", "--json").stdout)
    files = data["ingested_files"]
    assert [f["path"] for f in files] == on_disk
    assert sum(f["chunks"] for f in files) == data["chunks"] and sum(f["documents"] for f in files) == 16
    assert data["sentence_chunks"] == data["chunks"] and data["sentence_bytes"] > 0
    briefs = next(f for f in files if f["path"].endswith("briefs.jsonl"))
    assert briefs["documents"] == 5 and briefs["kind"] == "jsonl"
    assert all(f["bytes"] == Path(f["path"]).stat().st_size and f["ingested"] for f in files)


def test_chat_on_a_new_store_starts_an_empty_archive_that_ingestion_fills(tmp_path: Path) -> None:
    """Staff may start an archive from the chat's uploads: `assistant chat` on a folder without
    a store creates an empty one and says so, and answers once documents arrive (here from an
    ingestion in another process, as `assistant ingest` beside the running chat would)."""
    import socket
    import time

    import httpx

    from assistant.settings import Settings
    from ingest import ingest

    store = tmp_path / "new-store"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "chat", "--store", str(store), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                status = httpx.get(f"{url}/api/status", timeout=5).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the chat did not start"
                time.sleep(0.5)
        assert status["documents"] == 0 and status["chunks"] == 0
        question = {"question": "When did the UN Special Rapporteur visit Sennport?"}
        assert httpx.post(f"{url}/api/ask", json=question, timeout=60).json()["refused"] is True

        assert ingest([SAMPLE], Settings(store=store)).ok
        for _ in range(40):  # the chat looks at the store's generation every 2 s
            answer = httpx.post(f"{url}/api/ask", json=question, timeout=60).json()
            if not answer["refused"]:
                break
            time.sleep(0.5)
        assert not answer["refused"] and "March 2022" in answer["answer"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"No store at {store} yet: created an empty one." in out

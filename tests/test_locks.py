"""One writer per store: a second ingestion or removal, from another process, is refused with
a message naming the first; an ingestion waits for a reader that is saving its snapshot; a
reader never saves its snapshot while another process writes. Real processes hold the lock."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from assistant import Assistant, StoreBusyError
from assistant.app.uploads import ingest_uploads
from assistant.index.locks import SAVING, lock_path
from assistant.index.store import Store
from assistant.settings import Settings
from ingest import ingest

HOLD = """
import sys, time
from assistant.index.locks import writing, saving
from assistant.settings import Settings
settings = Settings(store=sys.argv[1])
if sys.argv[2] == "saving":
    with saving(settings) as held:
        print("held" if held else "busy", flush=True)
        time.sleep(float(sys.argv[3]))
else:
    with writing(settings, sys.argv[2]):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes it
"""


class Holder:
    """Another process holding the store's write lock until closed."""

    def __init__(self, store: Path, purpose: str, seconds: float = 0.0) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(store), purpose, str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout and self.proc.stdout.readline().strip() == "held"

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=300)


def test_a_second_writer_is_refused_with_a_message_naming_the_first(archive_copy: Path, settings: Settings) -> None:
    assert ingest([archive_copy], settings).ok
    before = Store.open(settings).count()
    note = archive_copy / "late-note.md"
    note.write_text("---\ntitle: Late note\n---\n\nThe harbour ferry timetable changed on 4 June.\n")
    holder = Holder(settings.store, "an ingestion")
    try:
        out = run("ingest", str(archive_copy), "--store", str(settings.store), "-q")
        assert out.returncode == 1
        assert out.stderr.startswith(f"Error: The store at {settings.store} is being written by an ingestion, "
                                     f"process {holder.proc.pid}, since ")
        assert out.stderr.strip().endswith("Wait for it to finish, then try again.")
        status = run("status", "--store", str(settings.store))  # readers see who writes
        assert f"Being written now by an ingestion, process {holder.proc.pid}, since " in status.stdout
        writing = json.loads(run("status", "--store", str(settings.store), "--json").stdout)["writing"]
        assert writing["pid"] == holder.proc.pid and writing["purpose"] == "an ingestion"
        gone = run("remove", str(note), "--store", str(settings.store))
        assert gone.returncode == 1 and "is being written by an ingestion" in gone.stderr
        try:
            ingest([archive_copy], settings)
            raise AssertionError("not refused")
        except StoreBusyError as e:
            assert f"process {holder.proc.pid}" in str(e)
        assert Store.open(settings).count() == before  # nothing written
        result = ingest_uploads([("upload.md", note)], Settings(store=settings.store,
                                                               archive_dir=settings.store.parent / "uploads"))
        assert not result.ok and result.rows[0][:2] == ("upload.md", "failed")
        assert "is being written by an ingestion" in result.rows[0][2]
        assert not list((settings.store.parent / "uploads").iterdir())  # not kept: it was not ingested
    finally:
        holder.close()
    assert json.loads(lock_path(settings).read_text() or "{}") == {}  # released and cleared
    # What a writer killed with SIGKILL leaves: its note, but no lock (the kernel released it).
    lock_path(settings).write_text(json.dumps({"pid": 999999, "purpose": "an ingestion", "since": time.time()}))
    assert json.loads(run("status", "--store", str(settings.store), "--json").stdout)["writing"] is None
    report = ingest([archive_copy], settings)  # free again
    assert [Path(f.path).name for f in report.added] == ["late-note.md"]


def test_an_ingestion_waits_for_a_reader_saving_its_snapshot(archive_copy: Path, settings: Settings) -> None:
    assert ingest([archive_copy / "news"], settings).ok
    holder = Holder(settings.store, "saving", seconds=2.0)
    assert json.loads(lock_path(settings).read_text())["purpose"] == SAVING
    start = time.monotonic()
    report = ingest([archive_copy], settings)
    assert report.ok and report.added and time.monotonic() - start > 1.0
    holder.close()


def test_a_reader_keeps_its_refreshed_snapshot_in_memory_while_another_process_writes(
        archive_copy: Path, settings: Settings) -> None:
    assert ingest([archive_copy], settings).ok
    store = Store.open(settings)
    saved = json.loads((settings.store / "snapshot" / "meta.json").read_text())["generation"]
    generation = store.bump_generation()  # as a writer does first: saved snapshots are stale now
    holder = Holder(settings.store, "an ingestion")
    try:
        found = Assistant(settings=settings).search("Inter-Ministerial Task Force on Detention Reform", k=3)
        assert found and found[0].doc_id == "b04"
        assert json.loads((settings.store / "snapshot" / "meta.json").read_text())["generation"] == saved
    finally:
        holder.close()
    assert Assistant(settings=settings).search("Inter-Ministerial Task Force", k=1)[0].doc_id == "b04"
    assert json.loads((settings.store / "snapshot" / "meta.json").read_text())["generation"] == generation


def test_a_writer_asked_to_wait_goes_on_when_the_other_finishes(archive_copy: Path, settings: Settings) -> None:
    holder = Holder(settings.store, "an ingestion")
    threading.Timer(3.0, holder.close).start()  # the other ingestion ends 3 s from now
    start = time.monotonic()
    out = run("sync", str(archive_copy), "--store", str(settings.store), "-q", "--wait")
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - start > 2.5 and "16 documents added" in out.stdout
    assert f"Waiting for an ingestion, process {holder.proc.pid}, since " in out.stderr

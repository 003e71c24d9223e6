"""A fork server for the crash test: imports the project and loads the embedding model once,
then runs each `assistant` command in a forked child that it (or the child itself) kills
with SIGKILL at a chosen point. Forking costs milliseconds where a fresh interpreter costs
5-10 s of imports, which is what lets the test kill 20 real ingestion runs in CI time.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"argv": [...], "log": FILE | null, "kill": null | {"at": "start", "delay": s}
                                                 | {"at": PHASE, "call": k, "delay": s}
                                                 | {"at": PHASE, "call": k, "after": true}}
      -> {"killed": bool, "code": int | null, "seconds": float}
  {"dump": STORE, "out": FILE, "queries": [...], "vectors": [...], "full": bool}
      -> the same reply; the dump is in FILE (see `dump`)
PHASE names a function (see HOOKS); on its k-th call a timer kills the process `delay`
seconds later, so the kill lands inside that call or just after it. The parent never
opens Chroma or runs the model, so every child starts from a clean, fork-safe state.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import assistant.app.cli  # noqa: E402
import assistant.index.repair  # noqa: E402
import ingest.pipeline  # noqa: E402
from assistant.index.embedding import Embedder, load_embedder  # noqa: E402
from assistant.index.snapshot import Snapshot  # noqa: E402
from assistant.index.store import Store  # noqa: E402
from assistant.settings import Settings  # noqa: E402

# Where a kill can be aimed: (owner, attribute) of the function whose k-th call arms it.
HOOKS: dict[str, tuple[Any, str]] = {
    "parse": (ingest.pipeline, "chunk_document"),  # parsing thread, once per changed document
    "embed": (Embedder, "encode"),  # one call per batch of chunks
    "upsert": (Store, "upsert"),  # Chroma writes of chunk batches
    "bump": (Store, "bump_generation"),  # the first write of a run that changes anything
    "manifest": (Store, "put_file_record"),  # a file's commit, after its chunks
    "snapshot": (Snapshot, "refresh"),  # the keyword snapshot, last step of a run
    "remove": (Store, "delete_files"),  # files being removed: records marked, chunks, records
    "delete": (Store, "delete"),  # chunks deleted: stale ones at a commit, or a removed file's
    "move": (Store, "move_files"),  # files moved to another collection: records marked, chunks, marks
    "recollect": (Store, "set_collection"),  # chunks' collection changed, a batch at a time
    "repair": (assistant.index.repair, "_reindex"),  # a damaged index given its vectors again
    "repair-vectors": (assistant.index.repair._Vectors, "of"),  # a page's vectors, before they are written
}
# Small batches, so a small corpus crosses many batch (resume) boundaries ...
ingest.pipeline.EMBED_BATCH = 8


def _small_index_batches() -> None:
    """... and Chroma writes its HNSW index files at every write of the chunks collection
    (by default it keeps the first 1,000 records in its log only), so kills land in those too."""
    from chromadb.api.client import Client

    original = Client.get_or_create_collection

    def patched(self: Any, name: str, *args: Any, configuration: Any = None, **kwargs: Any) -> Any:
        if configuration and "hnsw" in configuration:
            configuration = {**configuration, "hnsw": {**configuration["hnsw"], "sync_threshold": 8,
                                                       "batch_size": 8}}
        return original(self, name, *args, configuration=configuration, **kwargs)

    Client.get_or_create_collection = patched  # type: ignore[method-assign]


_small_index_batches()


def arm(at: str, call: int, delay: float, after: bool = False) -> None:
    """Kill `delay` s after the k-th call of the hooked function starts, or (`after`) the
    moment it returns: before the caller's next write, whatever that is."""
    owner, attr = HOOKS[at]
    original = getattr(owner, attr)
    count = 0

    def hooked(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count == call and not after:
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
        result = original(*args, **kwargs)
        if count == call and after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, attr, hooked)


def dump(store: str, out: str, queries: list[str], vectors: list[list[float]], full: bool) -> None:
    """Everything the test compares: chunks with metadata and vectors, the manifest, and
    searches through the keyword snapshot (BM25; exact cosine over its vectors, with a date
    filter) and Chroma's index, with stored vectors as queries so that no model has to run;
    `full` adds the Assistant's own hybrid and filtered searches."""
    from assistant.service import Assistant, make_filters

    settings = Settings(store=store)
    s = Store.open(settings)
    got = s.everything()
    files = {k: {f: v for f, v in r.items() if f != "ingested_at"} for k, r in s.file_records().items()}
    snap = Snapshot.load(s)
    since = snap.mask(make_filters(since="2023-01-10"))
    searches = {}
    for q in queries:
        searches[f"bm25:{q}"] = [[c, round(x, 4)] for c, x in snap.keyword(q, 8)]
    for i, v in enumerate(vectors):
        vector = np.asarray(v, dtype=np.float32)
        searches[f"chroma:{i}"] = [[c, round(x, 4)] for c, x in s.query(vector, 8)]
        searches[f"since:{i}"] = [[c, round(x, 4)] for c, x in snap.dense(vector, 8, since)]
    if full:
        a = Assistant(settings=settings)
        for q in queries:
            for name, kw in (("hybrid", {}), ("since", {"since": "2023-01-10"})):
                searches[f"{name}:{q}"] = [[p.id, round(p.score, 4)] for p in a.search(q, k=8, **kw)]
    result = {"count": s.count(), "ids": got.ids,
              "chunks": {i: [d, m.to_metadata()] for i, d, m in zip(got.ids, got.texts, got.metas)},
              "vectors": {i: [float(x) for x in v] for i, v in zip(got.ids, got.vectors)},
              "files": files, "snapshot_ids": sorted(snap.ids), "searches": searches,
              "snapshot_collections": {i: snap.collection_names[int(snap.collections[snap._row[i]])]
                                       for i in snap.ids}}
    with open(out, "w") as fh:
        json.dump(result, fh)


def child(request: dict[str, Any]) -> int:
    log = os.open(request.get("log") or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1)
    os.dup2(log, 2)
    if "dump" in request:
        dump(request["dump"], request["out"], request["queries"], request["vectors"], request["full"])
        return 0
    kill = request.get("kill")
    if kill and kill["at"] != "start":
        arm(kill["at"], int(kill["call"]), float(kill.get("delay", 0)), bool(kill.get("after")))
    return assistant.app.cli.main(request["argv"])


def serve() -> None:
    load_embedder(Settings().embed_model, Settings().embed_dtype)  # loaded once, shared by every child
    for line in sys.stdin:
        request = json.loads(line)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = child(request)
            except BaseException:  # into the child's log: the test shows it with the failure
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(code)
        kill = request.get("kill")
        done, status = 0, 0
        if kill and kill["at"] == "start":
            deadline = start + float(kill["delay"])
            while not done and time.monotonic() < deadline:
                time.sleep(0.005)
                done, status = os.waitpid(pid, os.WNOHANG)
            if not done:
                os.kill(pid, signal.SIGKILL)
        if not done:
            _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        reply = {"killed": killed, "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                 "seconds": round(time.monotonic() - start, 3)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    serve()

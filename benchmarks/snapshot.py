"""Adding a few files to a large store: the snapshot refresh (reads only the chunks it lacks)
against a rebuild from the whole store, in the same process, alternated.

Copies an existing store to a temporary folder, ingests the files given with `--add` into it
(end to end, timed; its own refresh included), then times, `--repeats` times each, a refresh
from the snapshot saved before the files were added and a rebuild. Checks that both give the
same chunks and vectors. Last, what a staff member waits for when the chat ingests an upload
(model loaded, same process): one small new file ingested, alternately with the refresh and
with a rebuild in its place (what ingestion did before).

    python -m benchmarks.snapshot --source .store/evals/news-2023q4/ours --add examples/archive
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from assistant.index.embedding import offline_env
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, required=True, help="an ingested store (copied, not changed)")
    p.add_argument("--add", type=Path, nargs="+", required=True, help="files or folders to ingest into the copy")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = p.parse_args()
    offline_env()
    from ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "store"
        shutil.copytree(args.source, folder)
        settings = Settings(store=folder)
        store = Store.open(settings)
        Snapshot.rebuild(store)  # in this version's format, whatever the copy held
        before = Path(tmp) / "snapshot-before"
        shutil.copytree(folder / "snapshot", before)
        chunks_before = store.count()
        report = ingest(args.add, settings)
        assert report.ok, report.summary()

        refresh_s: list[float] = []
        rebuild_s: list[float] = []
        reused = 0
        for _ in range(args.repeats):
            shutil.rmtree(folder / "snapshot")
            shutil.copytree(before, folder / "snapshot")
            start = time.perf_counter()
            refreshed = Snapshot.refresh(store)
            refresh_s.append(time.perf_counter() - start)
            reused = refreshed.reused
            start = time.perf_counter()
            rebuilt = Snapshot.rebuild(store)
            rebuild_s.append(time.perf_counter() - start)
            assert sorted(refreshed.ids) == sorted(rebuilt.ids)
            assert all(np.array_equal(refreshed.vectors[refreshed._row[c]], rebuilt.vectors[rebuilt._row[c]])
                       for c in rebuilt.ids)

        upload_s: dict[str, list[float]] = {"refresh": [], "rebuild": []}
        for i in range(args.repeats):
            for mode in upload_s:
                note = Path(tmp) / f"upload-{mode}-{i}.txt"
                note.write_text(f"Upload {mode} {i}\n\n" + " ".join(
                    f"Paragraph {n} of a short field note, number {i}, on the harbour ferry timetable."
                    for n in range(40)))
                swap = Snapshot.rebuild if mode == "rebuild" else Snapshot.refresh
                with mock.patch.object(Snapshot, "refresh", swap):
                    start = time.perf_counter()
                    assert ingest([note], settings).ok
                    upload_s[mode].append(time.perf_counter() - start)

    out = {"chunks_before": chunks_before, "chunks_added": report.chunks_embedded,
           "chunks_after": report.chunks_in_store, "files_added": len(report.added),
           "ingest_s": round(report.seconds, 2), "rows_reused": reused,
           "refresh_s": [round(s, 2) for s in refresh_s], "rebuild_s": [round(s, 2) for s in rebuild_s],
           "refresh_over_rebuild": round(statistics.median(refresh_s) / statistics.median(rebuild_s), 3),
           "upload_s": {k: [round(s, 2) for s in v] for k, v in upload_s.items()},
           "upload_refresh_over_rebuild": round(statistics.median(upload_s["refresh"])
                                                / statistics.median(upload_s["rebuild"]), 3)}
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""The whole-store cost the base-and-tail snapshot keeps: merging the tail and the masked rows
into a new base, which a refresh does once they pass TAIL_SHARE of the base. On a store's saved
snapshot, in memory (the store is not changed): `--remove` chunks masked (a small change, below
the share), then as many more with the thresholds at zero, which merges; the merge timed, the
process's RSS and peak RSS printed, and the merged snapshot saved to a temporary folder (timed).

    python -m benchmarks.merge --store /tmp/scale-store
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from unittest import mock

from assistant.index.embedding import offline_env


def _rss_mb(key: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--remove", type=int, default=1000, help="chunks masked before, and again for, the merge")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    offline_env()
    import assistant.index.snapshot as snapshot
    from assistant.index.rows import Chunks
    from assistant.index.snapshot import Changes, Snapshot
    from assistant.index.store import Store
    from assistant.settings import Settings

    start = time.perf_counter()
    snap = Snapshot.load(Store.open(Settings(store=args.store)))
    out: dict[str, float | int] = {"chunks": snap.size, "load_s": round(time.perf_counter() - start, 2),
                                   "rss_mb_loaded": _rss_mb()}
    ids = snap.ids
    masked = snap._changed("masked", Changes(Chunks.empty(), set(ids[:args.remove])))
    with mock.patch.object(snapshot, "TAIL_MIN", 0), mock.patch.object(snapshot, "TAIL_SHARE", 0.0):
        start = time.perf_counter()
        merged = masked._changed("merged", Changes(Chunks.empty(), set(ids[args.remove:2 * args.remove])))
        out["merge_s"] = round(time.perf_counter() - start, 2)
    assert merged.tail is None and merged.removed is None and merged.size == snap.size - 2 * args.remove
    out.update(rss_mb_merged=_rss_mb(), peak_rss_mb=_rss_mb("VmHWM"))
    with tempfile.TemporaryDirectory(prefix="merge-") as tmp:
        start = time.perf_counter()
        merged.save(Path(tmp) / "snapshot")
        out["save_s"] = round(time.perf_counter() - start, 2)
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

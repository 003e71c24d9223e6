"""What saving conversations costs an answer, for `benchmarks.load --saving`: two servers on one
store side by side, `save_conversations` off and on, asked in turn by one client."""

from __future__ import annotations

import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from benchmarks.served import ask, get, serving, summary

NAMES = ("off", "on")


def rows(db: Path) -> dict[str, int]:
    """Conversations and turns in a state database (every owner), read past the API's 200 cap."""
    if not db.exists():
        return {"conversations": 0, "turns": 0}
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in ("conversations", "turns")}


def listed(url: str) -> dict[str, int]:
    """What GET /api/conversations shows the caller ("local" on loopback; 200 at most)."""
    mine = get(f"{url}/api/conversations")["conversations"]
    return {"conversations": len(mine), "turns": sum(int(c["turns"]) for c in mine)}


def interleaved(urls: dict[str, str], questions: list[str], seconds: float) -> dict[str, Any]:
    """One client asks each question of both servers in turn, first one then the other and
    then the other way round (A B B A ...), so what slows the machine slows both alike."""
    lat: dict[str, list[float]] = {n: [] for n in urls}
    errors: dict[str, list[str]] = {n: [] for n in urls}
    conversations = dict.fromkeys(urls, 0)  # replies that named a saved conversation
    busy = dict.fromkeys(urls, 0.0)  # each server's own seconds: its "seconds" and requests/s
    pairs: list[tuple[float, float]] = []
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        took: dict[str, float] = {}
        for name in (NAMES if k % 2 == 0 else NAMES[::-1]):
            t, error, reply = ask(urls[name], questions[k % len(questions)])
            busy[name] += t
            if error:
                errors[name].append(error)
            else:
                lat[name].append(t)
                took[name] = t
                conversations[name] += reply.get("conversation") is not None
        if len(took) == 2:
            pairs.append((took["off"], took["on"]))
        k += 1
    return {"phases": {n: summary(lat[n], errors[n], busy[n], 1) for n in urls}, "pairs": pairs,
            "replies_with_conversation": conversations}


def bootstrap_p50_diff(pairs: list[tuple[float, float]], n: int = 2000) -> list[float] | None:
    """A 95% interval of p50(on) - p50(off) in ms, resampling the question pairs."""
    if len(pairs) < 10:
        return None
    rng = random.Random(0)
    diffs = sorted(
        statistics.median(p[1] for p in sample) - statistics.median(p[0] for p in sample)
        for sample in ([rng.choice(pairs) for _ in pairs] for _ in range(n)))
    return [round(1000 * diffs[int(0.025 * n)], 1), round(1000 * diffs[int(0.975 * n) - 1], 1)]


def run(store: Path, questions: list[str], seconds: float, bar_ms: float) -> dict[str, Any]:
    # The state databases sit beside the store, on its file system (the default `state.db` is
    # in the store folder): a fresh one per server, so each server's writes are counted apart.
    tmp = Path(tempfile.mkdtemp(prefix="load-saving-", dir=store.resolve().parent))
    dbs = {n: tmp / f"state-{n}.db" for n in NAMES}
    try:
        with ExitStack() as stack:
            urls = {n: stack.enter_context(serving(store, {
                "ASSISTANT_SAVE_CONVERSATIONS": "1" if n == "on" else "0",
                "ASSISTANT_STATE_URL": f"sqlite:///{dbs[n]}",
                "ASSISTANT_AUDIT_LOG": str(tmp / f"audit-{n}.jsonl")}))[1] for n in NAMES}
            for q in questions:  # warm-up: the snapshot, and the compiled shapes of every question
                for n in NAMES:
                    ask(urls[n], q)
            before = {n: rows(dbs[n]) for n in NAMES}
            measured = interleaved(urls, questions, seconds)
            for name, ph in measured["phases"].items():
                print(name, ph, flush=True)
            after = {n: rows(dbs[n]) for n in NAMES}
            api = {n: listed(urls[n]) for n in NAMES}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    off, on = measured["phases"]["off"], measured["phases"]["on"]
    answered = {n: measured["phases"][n]["requests"] - measured["phases"][n]["errors"] for n in NAMES}
    written = {n: {"conversations": after[n]["conversations"] - before[n]["conversations"],
                   "turns": after[n]["turns"] - before[n]["turns"], "answers": answered[n],
                   "replies_with_conversation": measured["replies_with_conversation"][n],
                   "total_in_db": after[n], "api_listed_at_end": api[n]} for n in NAMES}
    pairs = measured["pairs"]
    diff = round(on["p50_ms"] - off["p50_ms"], 1) if on["p50_ms"] and off["p50_ms"] else None
    problems = [f"{n}: {measured['phases'][n]['errors']} errors" for n in NAMES if measured["phases"][n]["errors"]]
    if written["on"]["turns"] != answered["on"]:
        problems.append(f"on: {written['on']['turns']} turns saved for {answered['on']} answers")
    if after["off"]["turns"] or after["off"]["conversations"]:
        problems.append(f"off: saved {after['off']}")
    if diff is None or diff > bar_ms:
        problems.append(f"p50 difference {diff} ms > {bar_ms} ms")
    return {
        "off": off, "on": on, "p50_diff_ms": diff,
        "p50_ratio_on_vs_off": round(on["p50_ms"] / off["p50_ms"], 3) if diff is not None else None,
        "p50_diff_95ci_ms": bootstrap_p50_diff(pairs),
        "paired_median_diff_ms": round(1000 * statistics.median(b - a for a, b in pairs), 1) if pairs else None,
        "pairs": len(pairs), "written": written, "bar_ms": bar_ms,
        "verdict": "FAIL: " + "; ".join(problems) if problems else "PASS",
    }

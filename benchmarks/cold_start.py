"""Cold start of the `assistant` command: each command run as a fresh process, timed from its start
to the first byte it writes on stdout (for ask: the first byte of the answer text) and to its exit.
With --baseline-python-path, the same commands from another checkout run in turn with these, in one
run, so both see the same machine load.

    git worktree add --detach /tmp/cold-base main    # the old code, before the change
    python -m benchmarks.cold_start --store .store/sample --baseline-python-path /tmp/cold-base \\
        --out benchmarks/results/cold_start.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "Why did Cambodia reject the OHCHR report?"


def commands(store: str, question: str) -> dict[str, list[str]]:
    return {"ask": ["ask", question, "--store", store], "status": ["status", "--store", store],
            "config": ["config", "--store", store], "--help": ["--help"]}


def run_once(checkout: Path, args: list[str]) -> tuple[float, float, float]:
    """Seconds to the first byte on stdout and to the exit of `python -m assistant ARGS`, and the
    CPU seconds (user and system) it used: a figure that other jobs on the machine disturb less."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", *args], cwd=checkout, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    first_at = time.perf_counter() - start
    rest = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    total = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0 or not first:
        raise SystemExit(f"{checkout}: `assistant {' '.join(args)}` failed (exit {code}): {(first + rest)[:300]!r}")
    return first_at, total, usage.ru_utime + usage.ru_stime


def summary(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="store folder to ask (e.g. .store/sample)")
    p.add_argument("--baseline-python-path", type=Path, help="checkout of the code to compare against")
    p.add_argument("--runs", type=int, default=5, help="runs of each command per checkout (default 5)")
    p.add_argument("--question", default=QUESTION)
    p.add_argument("--only", action="append", help="only this command (ask, status, config, --help); repeatable")
    p.add_argument("--out", type=Path, help="also write the table as Markdown here")
    args = p.parse_args()
    store = str(Path(args.store).resolve())
    checkouts = {"this": Path(__file__).resolve().parent.parent}
    if args.baseline_python_path:
        checkouts["baseline"] = args.baseline_python_path.resolve()
    todo = {k: v for k, v in commands(store, args.question).items() if not args.only or k in args.only}
    times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for name, argv in todo.items():
        for checkout in checkouts.values():  # a warm-up each: the OS's file cache, not Python's
            run_once(checkout, argv)
        for _ in range(args.runs):  # alternated, so a burst of load hits both alike
            for label, checkout in checkouts.items():
                times.setdefault((name, label), []).append(run_once(checkout, argv))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"# Cold start: `python -m assistant ...`, {args.runs} runs each, median (min-max) seconds",
             "", f"CPU: {cpu_name()}; Python {platform.python_version()}; load average at the end "
             f"{load:.2f}; store {args.store}; ask: {args.question!r}.", "",
             "First byte: of stdout (for ask, of the answer text). Total: to the process's exit. CPU: "
             "user and system seconds of the whole process (less disturbed by other jobs than wall time).", "",
             "| command | first byte, this | total, this | CPU, this |"
             + (" first byte, baseline | total, baseline | CPU, baseline | first byte this/baseline |"
                if len(checkouts) > 1 else ""),
             "|---|---|---|---|" + ("---|---|---|---|" if len(checkouts) > 1 else "")]
    for name in todo:
        ours = times[(name, "this")]
        row = "| `{}` | {} | {} | {} |".format(name, *(summary([t[i] for t in ours]) for i in range(3)))
        if "baseline" in checkouts:
            base = times[(name, "baseline")]
            ratio = statistics.median(t[0] for t in ours) / statistics.median(t[0] for t in base)
            row += " {} | {} | {} |".format(*(summary([t[i] for t in base]) for i in range(3))) + f" {ratio:.2f} |"
        lines.append(row)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()

"""Idle memory of `make run`: every process `hbo up` starts, after one job.

    .venv/bin/python bench/memory.py [--idle SECONDS]

Starts `hbo up` as a newcomer does (console chat, the embedded dev server, SQLite; see
tests/support/hbo_up.py), runs one `/exec` job to its end, waits idle, then reads
/proc/<pid>/status (VmRSS) and, where readable, /proc/<pid>/smaps_rollup (Pss: shared pages
split between the processes sharing them) of `hbo up` and all its descendants. Prints one line
per process and the total, ending with

    memory: processes N, rss R MB, pss P MB

RSS counts a shared page in every process that maps it, so the RSS total is the pessimistic
one; PSS adds up to what the tree really holds. (`hbo up` makes itself non-dumpable, which hides
its smaps_rollup from other processes of the same user: its PSS is then its RSS.)
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.hbo_up import start_hbo_up


@dataclass
class Proc:
    pid: int
    name: str
    rss_kb: int
    pss_kb: int | None


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        pids.append(pid)
        todo += _children(pid)
    return pids


def _field(text: str, name: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return None


def _name(pid: int) -> str:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    words = [w.decode(errors="replace") for w in raw if w]
    # The program and what tells it apart: `hbo up`, `-m hbo.isolated_worker isolated-worker`, …
    short = [Path(words[0]).name] if words else ["?"]
    short += [w if "/" not in w else Path(w).name for w in words[1:4]]
    return " ".join(short)


def measure(pid: int) -> Proc | None:
    try:
        rss = _field(Path(f"/proc/{pid}/status").read_text(), "VmRSS") or 0
        name = _name(pid)
    except OSError:
        return None
    try:
        pss = _field(Path(f"/proc/{pid}/smaps_rollup").read_text(), "Pss")
    except OSError:
        pss = None
    return Proc(pid, name, rss, pss)


def report(procs: list[Proc]) -> str:
    lines = [f"{'pid':>8}  {'rss MB':>8}  {'pss MB':>8}  process"]
    for p in procs:
        pss = f"{p.pss_kb / 1024:8.1f}" if p.pss_kb is not None else f"{'-':>8}"
        lines.append(f"{p.pid:>8}  {p.rss_kb / 1024:8.1f}  {pss}  {p.name}")
    rss = sum(p.rss_kb for p in procs) / 1024
    pss = sum(p.pss_kb if p.pss_kb is not None else p.rss_kb for p in procs) / 1024
    lines.append(f"memory: processes {len(procs)}, rss {rss:.0f} MB, pss {pss:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before reading")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hbo-memory-") as tmp:
        proc, output = start_hbo_up(Path(tmp))
        try:
            output.until("you> ", 120)
            assert proc.stdin is not None
            proc.stdin.write("/exec echo memory-ok\n")
            proc.stdin.flush()
            output.until("completed", 60)
            time.sleep(args.idle)  # idle: the measurement, not a proof of anything
            procs = [p for p in map(measure, tree(proc.pid)) if p is not None]
            print(report(procs), flush=True)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

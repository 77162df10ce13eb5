"""An idle `hbo` process hands the free pages inside its C heap back to the system: glibc by
itself returns only the heap's free top, so what was freed below live data stays resident."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from core.io import process
from core.io.process import release_free_heap_until

ROOT = Path(__file__).resolve().parents[2]

# 40 MB of C-heap blocks (2 kB bytes objects: above pymalloc's limit, below mmap's threshold),
# every 50th kept so the freed ones sit below live data; resident MB after freeing, after the
# release.
SCRIPT = """
import re
from core.io.process import release_free_heap

def rss_mb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024

blocks = [bytes(2000) + bytes([i % 256]) for i in range(20_000)]
kept = blocks[::50]
del blocks
freed = rss_mb()
assert release_free_heap()
print(freed, rss_mb())
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc"
)
def test_release_gives_freed_heap_pages_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    freed, released = map(float, done.stdout.split())
    assert freed - released > 20, (freed, released)


async def test_release_repeats_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    third = asyncio.Event()

    def counted() -> bool:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        return True

    monkeypatch.setattr(process, "release_free_heap", counted)
    stop = asyncio.Event()
    task = asyncio.create_task(release_free_heap_until(stop, every=0.01))
    await asyncio.wait_for(third.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)  # ends once asked, without another wait of `every`
    assert task.done()


async def test_without_glibc_it_still_ends_only_when_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`hbo up` runs it beside its workers and chat, and stops everything when one part ends."""
    tried = asyncio.Event()

    def unavailable() -> bool:
        tried.set()
        return False

    monkeypatch.setattr(process, "release_free_heap", unavailable)
    stop = asyncio.Event()
    task = asyncio.create_task(release_free_heap_until(stop, every=0.01))
    await asyncio.wait_for(tried.wait(), 10)
    await asyncio.sleep(0)  # the task goes on past the failed release …
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)  # … and ends with `stop`

"""What `hbo up` keeps in memory when it serves no metrics (`make run`): not the HTTP server
behind `/metrics` (aiohttp), not the LLM circuit breaker's library (purgatory) before a model is
called, and not the command-line extras httpx imports when they happen to be installed (rich,
click, pygments: the dev tools bring them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# `hbo up` as `make run` starts it, short of starting anything: the program's modules and its
# ops prepared without HBO_METRICS_PORT; then which of the unneeded packages got imported.
SCRIPT = """
import asyncio, sys
import hbo.cli, hbo.commands
from core.io.settings import Settings
from hbo.ops import Ops

async def main():
    settings = Settings(_env_file=None)
    assert settings.metrics_port is None
    ops = Ops.prepare(settings, "up", child=True)
    async with ops.serving(None, workers=True, bot=True):
        pass

asyncio.run(main())
unneeded = {"aiohttp", "purgatory", "rich", "click", "pygments"}
print(sorted({m.split(".")[0] for m in sys.modules} & unneeded))
"""


def test_hbo_up_without_a_metrics_port_imports_no_http_server_nor_cli_extras() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}  # no HBO_METRICS_PORT, no `.env` read
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT / "tests",  # not the project root: its `.env`, if any, stays unread
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout

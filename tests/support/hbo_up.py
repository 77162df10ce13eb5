"""`hbo up` started as a newcomer starts it (what `make run` does), for tests that drive its
console chat: no Telegram token, the embedded dev server on free ports, SQLite in a temporary
folder; and everything it prints, collected as it comes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from tests.support.roles import ROOT
from tests.support.stack import free_port


class Output:
    """Everything the process prints, collected on a thread (reads would block otherwise)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.text = ""
        self.read_to = 0
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for chunk in iter(lambda: stream.read(1), ""):
            self.text += chunk

    def until(self, needle: str, timeout: float) -> str:
        """Output since the last call, up to and including `needle`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.text.find(needle, self.read_to)
            if found != -1:
                seen, self.read_to = (
                    self.text[self.read_to : found + len(needle)],
                    found + len(needle),
                )
                return seen
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen in time; output:\n{self.text[-3000:]}")


def start_hbo_up(tmp_path: Path, **extra: str) -> tuple[subprocess.Popen[str], Output]:
    """`python -m worker_main up` with none of this machine's Telegram, Temporal, LLM or HBO
    settings, its data under `tmp_path`, plus `extra` settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_", "HBO_"))
    }
    env.update(
        {
            "HBO_DATA_DIR": str(tmp_path / "data"),
            "TEMPORAL_DEV_PORT": str(free_port()),
            "TEMPORAL_UI_PORT": str(free_port()),
            "DATABASE_URL": "",
            **extra,
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker_main", "up"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, Output(proc)

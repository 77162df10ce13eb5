"""`hbo up` as a newcomer runs it (what `make run` does): embedded dev server, workers, the
console chat on stdin/stdout; SIGINT stops everything and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_hbo_up_console_chat_and_clean_stop(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_"))
    }
    env.update(
        HBO_DATA_DIR=str(tmp_path / "data"),
        TEMPORAL_DEV_PORT=str(free_port()),
        TEMPORAL_UI_PORT=str(free_port()),
        DATABASE_URL="",
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
    try:
        output = Output(proc)
        banner = output.until("you> ", 60)
        assert "Temporal Web UI: http://127.0.0.1:" in banner and "console chat" in banner
        assert proc.stdin is not None
        proc.stdin.write("/exec echo console-ok\n")
        proc.stdin.flush()
        assert "started" in output.until("completed", 30)
        output.until("console-ok", 10)
        server = subprocess.run(
            ["pgrep", "-f", f"start-dev --ip 127.0.0.1 --port {env['TEMPORAL_DEV_PORT']}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert server, "the dev server is not a child of hbo up"

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)  # must not hang on the console's pending stdin read
        assert not any(_alive(int(pid)) for pid in server), "the dev server was orphaned"
        assert (tmp_path / "data" / "temporal.db").is_file()  # a restart resumes from here
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""`hbo up` as a newcomer runs it (what `make run` does): embedded dev server, workers, the
console chat on stdin/stdout; SIGINT stops everything and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.support.hbo_up import start_hbo_up
from tests.support.stack import free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_hbo_up_console_chat_and_clean_stop(tmp_path: Path) -> None:
    dev_port = str(free_port())
    proc, output = start_hbo_up(tmp_path, TEMPORAL_DEV_PORT=dev_port)
    try:
        banner = output.until("you> ", 60)
        assert "Temporal Web UI: http://127.0.0.1:" in banner and "console chat" in banner
        assert proc.stdin is not None
        proc.stdin.write("/exec echo console-ok\n")
        proc.stdin.flush()
        assert "started" in output.until("completed", 30)
        output.until("console-ok", 10)
        server = subprocess.run(
            ["pgrep", "-f", f"start-dev --ip 127.0.0.1 --port {dev_port}"],
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

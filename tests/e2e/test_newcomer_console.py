"""A newcomer's first session, scripted in a real terminal (a pseudo-terminal from Python's
`pty`, so the console behaves as it does for a person: echo, Ctrl-C through the line
discipline): `hbo up` → the banner with the Web UI URL → /help → /exec echo hi and its result →
a mistyped /exce and its suggestion → Ctrl-C → a clean exit with no process left behind.
The assertions are on the screens a person reads."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """The screen of a process on a pseudo-terminal, read on a thread."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.screen = ""
        self.read_to = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # the other side closed
                return
            if not data:
                return
            with self._lock:
                self.screen += data.decode(errors="replace").replace("\r", "")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def until(self, needle: str, timeout: float) -> str:
        """Screen text since the last call, up to and including `needle`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = self.screen.find(needle, self.read_to)
                if found != -1:
                    seen = self.screen[self.read_to : found + len(needle)]
                    self.read_to = found + len(needle)
                    return seen
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not on screen in time; screen:\n{self.screen[-3000:]}")


def _controlling_terminal() -> None:
    """In the child: a session of its own with the pty as its controlling terminal, so that
    Ctrl-C typed on it becomes SIGINT for the process, as in a person's shell."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as f:
                children = {int(c) for c in f.read().split()}
        except OSError:
            continue
        todo += list(children - found)
        found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_newcomers_console_session(tmp_path: Path) -> None:
    ui_port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_", "DATABASE_"))
    }
    env.update(
        HBO_DATA_DIR=str(tmp_path / "data"),
        TEMPORAL_DEV_PORT=str(free_port()),
        TEMPORAL_UI_PORT=str(ui_port),
        TERM="xterm",
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker_main", "up"],
        cwd=ROOT,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    term = Terminal(master)
    children: set[int] = set()
    try:
        banner = term.until("you> ", 90)
        assert "Starting the Temporal dev server" in banner
        assert f"Temporal Web UI: http://127.0.0.1:{ui_port}" in banner
        assert "console chat" in banner and "/help" in banner and "Ctrl-C" in banner
        children = _descendants(proc.pid)
        assert children, "the dev server should be a child of hbo up"

        term.type("/help\n")
        # Under load the answer may come after a fresh prompt (the console does not wait for a
        # slow answer): wait for the help's last line, not for the prompt.
        help_screen = term.until("what is running?", 30)
        assert "/exec <command>" in help_screen and "e.g. /exec" in help_screen
        assert "Plain words work too, no LLM needed" in help_screen
        assert "what is running?" in help_screen

        term.type("/exec echo hi\n")
        card = term.until("started", 30)
        job_id = card.rsplit("job-", 1)[1].split()[0]
        result = term.until("completed", 60)
        assert f"job-{job_id}" in result
        assert "\nhi\n" in term.until("\nhi\n", 10)  # the command's output, on its own line

        term.type("/exce ls\n")
        term.until("/exce ls\n", 10)  # the terminal's echo of what was typed
        shown = term.until("/help lists every command.", 30)
        answer = [line for line in shown.splitlines() if line.strip() and line.strip() != "you>"]
        assert answer == [
            "Unknown command /exce — did you mean /exec? e.g. /exec df -h · "
            "/help lists every command."
        ], answer  # one line, not the whole help

        term.type("\x03")  # Ctrl-C, through the terminal
        term.until("Stopped.", 30)
        assert proc.wait(timeout=30) == 0
        left = {pid for pid in children | _descendants(proc.pid) if _alive(pid)}
        assert not left, f"processes left behind: {left}"
        screen = term.screen
        assert "Traceback" not in screen and " INFO " not in screen and "ERROR" not in screen
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        os.close(master)

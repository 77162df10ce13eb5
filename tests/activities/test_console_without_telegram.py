"""A console-mode process (no bot token: `make run` out of the box) never loads
python-telegram-bot: its sender, its chat validator and the whole `hbo` entry module do without
it (tens of MB resident in a process that never talks to Telegram)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import worker_main
from activities.heartbeat.validate import ConsoleChatValidator, build_validator
from activities.telegram.sender import build_sender
from core.io.settings import load_settings
settings = load_settings()
assert settings.console_mode
sender = build_sender(settings)
assert isinstance(build_validator(sender), ConsoleChatValidator)
print(sorted(m for m in sys.modules if m == "telegram" or m.startswith("telegram.")))
"""


def test_console_mode_loads_no_telegram_library(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env["HBO_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout

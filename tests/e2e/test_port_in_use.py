"""`hbo up` when a port it needs is taken (another instance, another Temporal): start-up stops
with one clear line naming the port and the setting that changes it, and starts nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:  # a listener, as another instance's dev server would be
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _hbo_up(tmp_path: Path, dev_port: int, ui_port: int) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_"))
    }
    env.update(
        HBO_DATA_DIR=str(tmp_path / "data"),
        TEMPORAL_DEV_PORT=str(dev_port),
        TEMPORAL_UI_PORT=str(ui_port),
        DATABASE_URL="",
    )
    return subprocess.run(
        [sys.executable, "-m", "worker_main", "up"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("which", ["TEMPORAL_DEV_PORT", "TEMPORAL_UI_PORT"])
def test_a_port_in_use_stops_start_up_naming_port_and_setting(
    tmp_path: Path, taken_port: int, which: str
) -> None:
    other = free_port()
    dev, ui = (taken_port, other) if which == "TEMPORAL_DEV_PORT" else (other, taken_port)
    result = _hbo_up(tmp_path, dev, ui)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr  # one clear line, no traceback
    assert f"port {taken_port}" in errors[0] and which in errors[0] and "in use" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert "Temporal Web UI" not in result.stdout  # nothing was started
    assert not (tmp_path / "data" / "temporal.db").exists()

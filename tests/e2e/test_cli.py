"""The `hbo` command line as a person first meets it: the top-level help lists the
subcommands; a CLI answer is not preceded by log noise; an unreachable Temporal is one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from core.io.devserver import DevServer
from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


def _hbo(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_"))
    }
    env.update(HBO_DATA_DIR=str(tmp_path / "data"), DATABASE_URL="", **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "worker_main", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_top_level_help_lists_the_subcommands(tmp_path: Path) -> None:
    result = _hbo(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: hbo [-h] {up,worker,bot,heartbeat}")
    for sub in ("up", "worker", "bot", "heartbeat"):
        assert f"\n    {sub} " in result.stdout, result.stdout
    assert "--queue" not in result.stdout  # that is `hbo worker --help`
    assert "--queue" in _hbo(tmp_path, "worker", "--help").stdout


async def test_heartbeat_list_answers_without_log_noise(
    tmp_path: Path, dev_server: DevServer
) -> None:
    result = await asyncio.to_thread(
        _hbo, tmp_path, "heartbeat", "list", TEMPORAL_ADDRESS=dev_server.target
    )
    assert result.returncode == 0, result.stderr
    assert "alembic" not in result.stderr.lower() and " INFO " not in result.stderr
    assert result.stdout.strip(), "no answer"


def test_unreachable_temporal_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = _hbo(tmp_path, "heartbeat", "list", TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Cannot reach Temporal at 127.0.0.1:{port}: start it with `hbo up` (which embeds a "
        "dev server), or set TEMPORAL_ADDRESS to a running server."
    )

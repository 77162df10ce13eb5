"""`hbo` roles as processes of their own, for tests that SIGKILL one: started from the same
settings as the in-process stack (over the environment, as a deployment would), each in its own
process group so a kill takes its children (the isolated execution child) with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.io.settings import Settings
from tests.support.stack import TEST_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def role_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment plus what a role needs to join `settings`' deployment."""
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": settings.temporal_target,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "HBO_DATA_DIR": str(settings.data_path),
        "DATABASE_URL": settings.database_url,
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_BASE_URL": settings.telegram_base_url,
        "LOG_LEVEL": "INFO",
        **extra,
    }


def spawn_role(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`worker_main.py <args>` with its output appended to `log`."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "worker_main.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_role(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the role's whole process group (if it still runs) and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(10)

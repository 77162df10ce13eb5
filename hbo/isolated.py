"""Starting the execution queue's child (`hbo.isolated_worker`) from a process that holds the
secrets: its argv, its environment (a short allowlist without them) and its settings (over
stdin, never from `.env`), supervised until stopped."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

from activities.sandbox import choose_sandbox
from core.domain.temporal_names import EXECUTION_QUEUE
from core.io.plugins import worker_specs
from core.io.process import secret_free_env, supervise
from core.io.settings import SECRET_ENV_NAMES, Settings

# Run as a module, so it finds the installed packages from any working directory.
CHILD_MODULE = "hbo.isolated_worker"


def child_argv(
    settings: Settings,
    queues: Sequence[str],
    *,
    log_to_file: bool = False,
    sdk_metrics_port: int | None = None,
) -> list[str]:
    argv = [sys.executable, "-m", CHILD_MODULE, "isolated-worker"]
    for queue in queues:
        argv += ["--queue", queue]
    # Only the definitions on its queues: the child imports nothing else (its memory).
    for spec in worker_specs(queues, settings.worker_plugins):
        argv += ["--worker", spec]
    if log_to_file:
        argv.append("--log-to-file")
    if sdk_metrics_port is not None:
        argv += ["--sdk-metrics-port", str(sdk_metrics_port)]
    return argv


async def run_isolated(
    settings: Settings,
    queues: Sequence[str],
    stop: asyncio.Event,
    *,
    log_to_file: bool = False,
    sdk_metrics_port: int | None = None,
) -> None:
    """Workers for `queues` (not empty) in a supervised child process without the secrets: its
    environment is a short allowlist without them, its settings come over stdin (the Temporal
    API key only when one is set, as Temporal needs it), and it never reads `.env`."""
    argv = child_argv(settings, queues, log_to_file=log_to_file, sdk_metrics_port=sdk_metrics_port)
    if EXECUTION_QUEUE in queues:
        sandbox = await asyncio.to_thread(choose_sandbox, settings)
        print(f"Commands run {sandbox.describe()}", flush=True)
    values = settings.without_secrets()
    if settings.temporal_api_key is not None:
        values["TEMPORAL_API_KEY"] = settings.temporal_api_key.get_secret_value()
    await supervise(
        f"the {'/'.join(queues)} worker process",
        argv,
        env=secret_free_env(settings.execution_env_allowlist, SECRET_ENV_NAMES),
        stdin_data=json.dumps(values).encode(),
        stop=stop,
    )

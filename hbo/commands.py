"""`hbo up`, `hbo worker` and `hbo bot`: which parts each runs, side by side, until stopped."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from activities.telegram.sender import build_sender
from core.domain.temporal_names import ALL_QUEUES
from core.io.devserver import DevServer, from_settings
from core.io.process import release_free_heap_until
from core.io.settings import Settings
from hbo.chat import run_chat
from hbo.isolated import run_isolated
from hbo.lifecycle import install_signal_handlers, until_stopped
from hbo.ops import Ops
from hbo.runtime import open_runtime
from hbo.workers import all_queues, run_workers, split_queues


async def cmd_up(settings: Settings) -> int:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    ops = Ops.prepare(settings, "up", child=True)
    server: DevServer | None = None
    if settings.temporal_address is None:
        server = from_settings(settings)
        print(
            f"Starting the Temporal dev server ({server.binary}) on {server.target} …", flush=True
        )
        await server.start()
        print(f"Temporal Web UI: {server.ui_url}", flush=True)
    try:
        async with (
            open_runtime(settings) as runtime,
            ops.serving(runtime, workers=True, bot=True),
        ):
            mode = "console chat" if settings.console_mode else "Telegram bot"
            print(
                f"Workers on {', '.join(ALL_QUEUES)}; {mode}; data in {settings.data_path}",
                flush=True,
            )
            if ops.server is not None:
                print(f"Metrics: {ops.server.url} (health: /healthz, /readyz)", flush=True)
            local, isolated = split_queues(all_queues(runtime.registry))
            parts: list[Coroutine[Any, Any, None]] = [
                run_workers(runtime, local, stop, build_sender(settings), ops.readiness),
                run_chat(runtime, stop, ops.readiness),
                release_free_heap_until(stop),
            ]
            if isolated:
                parts.append(
                    run_isolated(
                        settings,
                        isolated,
                        stop,
                        log_to_file=settings.console_mode,
                        sdk_metrics_port=ops.child_sdk_port,
                    )
                )
            await until_stopped(stop, *parts)
    finally:
        if server is not None:
            await server.stop()
        print("Stopped.", flush=True)
    return 0


async def cmd_worker(settings: Settings, queues: Sequence[str] | None) -> int:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    ops = Ops.prepare(settings, "worker", child=not queues or bool(split_queues(queues)[1]))
    async with open_runtime(settings) as runtime, ops.serving(runtime, workers=True, bot=False):
        known = all_queues(runtime.registry)
        unknown = [q for q in queues or [] if q not in known]
        if unknown:
            print(
                f"Unknown task queue(s): {', '.join(unknown)}; known: {', '.join(known)}",
                file=sys.stderr,
            )
            return 2
        local, isolated = split_queues(queues or known)
        parts: list[Coroutine[Any, Any, None]] = [
            run_workers(runtime, local, stop, build_sender(settings), ops.readiness),
            release_free_heap_until(stop),
        ]
        if isolated:
            parts.append(
                run_isolated(settings, isolated, stop, sdk_metrics_port=ops.child_sdk_port)
            )
        failed = await until_stopped(stop, *parts)
    return 1 if failed else 0


async def cmd_bot(settings: Settings) -> int:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    ops = Ops.prepare(settings, "bot")
    async with open_runtime(settings) as runtime, ops.serving(runtime, workers=False, bot=True):
        await run_chat(runtime, stop, ops.readiness)
    return 0

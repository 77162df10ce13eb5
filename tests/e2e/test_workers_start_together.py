"""Scaling out as the README says: one `hbo worker --queue …` per task queue, all started at the
same moment (as a supervisor or an orchestrator starts them) against one dev server and one
fresh database — every one comes up and polls; none dies racing the others' migrations."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.client import Client

from core.domain.temporal_names import ALL_QUEUES
from core.io.devserver import DevServer
from tests.support.namespaces import new_namespace

ROOT = Path(__file__).resolve().parents[2]

# `hbo worker --queue Q`, held after its imports until the start file exists.
SCRIPT = """
import pathlib, sys, time
import worker_main
go = pathlib.Path(sys.argv[1])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
sys.argv = ["hbo", "worker", "--queue", sys.argv[2]]
worker_main.main()  # as the `hbo` program runs it
"""


async def test_one_worker_per_queue_started_at_once(
    tmp_path: Path, dev_server: DevServer, client: Client
) -> None:
    namespace = (await new_namespace(dev_server.target, client, "together")).namespace
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_", "DATABASE_"))
    }
    env.update(
        HBO_DATA_DIR=str(tmp_path / "data"),
        TEMPORAL_ADDRESS=dev_server.target,
        TEMPORAL_NAMESPACE=namespace,
    )
    go = tmp_path / "go"
    logs = {queue: tmp_path / f"{queue}.log" for queue in ALL_QUEUES}
    procs = {
        queue: await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SCRIPT,
            str(go),
            queue,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=logs[queue].open("w"),  # the worker's log
        )
        for queue in ALL_QUEUES
    }
    try:
        for proc in procs.values():  # every one has imported everything: release them together
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
        go.touch()
        deadline = time.monotonic() + 90
        waiting = set(ALL_QUEUES)
        while waiting and time.monotonic() < deadline:
            for queue in list(waiting):
                # (the execution queue polls from its secret-free child: "polling (isolated…)")
                if re.search(rf"workers polling[^:\n]*: {queue}", logs[queue].read_text()):
                    waiting.discard(queue)
                dead = procs[queue].returncode
                assert dead is None, f"{queue} worker exited {dead}:\n{logs[queue].read_text()}"
            await asyncio.sleep(0.2)
        assert not waiting, {q: logs[q].read_text()[-2000:] for q in waiting}
        for queue in ALL_QUEUES:
            assert "Traceback" not in logs[queue].read_text(), logs[queue].read_text()
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        codes = {q: await asyncio.wait_for(p.wait(), 30) for q, p in procs.items()}
    assert codes == dict.fromkeys(ALL_QUEUES, 0), codes

"""Every process migrates on start, and a supervisor starts several at the same moment: the
migrations must serialise (one migrates, the others wait and find the head), on SQLite and on
PostgreSQL. Real OS processes, released together by a start file once all have imported."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from core.io.db import Database
from core.io.schema_upgrade import alembic_config

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4

# Import everything, say "ready", wait for the start file, then migrate.
SCRIPT = """
import asyncio, pathlib, sys, time
from core.io.db import Database
go = pathlib.Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
asyncio.run(Database(sys.argv[1]).migrate())
print("migrated", flush=True)
"""


def _start_together(url: str, go: Path) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, url, str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr and proc.stderr.read()
    go.touch()
    return procs


async def test_processes_started_at_once_all_migrate(
    empty_database_url: str, tmp_path: Path
) -> None:
    procs = _start_together(empty_database_url, tmp_path / "go")
    deadline = time.monotonic() + 90
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
        results.append((proc.returncode, out, err))
    failures = [err for code, _, err in results if code != 0]
    assert not failures, "a process failed to migrate:\n" + "\n---\n".join(failures)

    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    db = Database(empty_database_url)
    try:
        async with db.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert [v[0] for v in versions] == [head]
        assert {"chats", "report_ledger", "heartbeat_targets", "audit_log"} <= tables
        await db.migrate()  # and once more, in-process: nothing to do, no error
    finally:
        await db.close()

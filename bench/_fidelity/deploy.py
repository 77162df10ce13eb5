"""A production-shaped deployment on one machine: one Temporal dev server on a data file, the
app database (PostgreSQL when reachable, else SQLite), and one OS process per role started
through the `hbo` CLI — restarted, like a supervisor would, whenever it dies or is killed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench._fidelity.records import role_kind
from core.io.db import Database
from core.io.devserver import DevServer, find_temporal_cli
from core.io.process import die_with_parent, stop_process_group
from core.io.temporal import ensure_search_attributes
from tests.support.stack import free_port

log = logging.getLogger("fidelity")

PG_ADMIN = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

# (role name, `hbo` arguments): two execution workers, two operator workers (the senders: a
# send on a killed one is taken over by the other within the notify heartbeat timeout, not after
# a restart), one per other queue, the bot.
ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("execution-1", ("worker", "--queue", "execution")),
    ("execution-2", ("worker", "--queue", "execution")),
    ("research", ("worker", "--queue", "research")),
    ("reporting", ("worker", "--queue", "reporting")),
    ("operator-1", ("worker", "--queue", "operator")),
    ("operator-2", ("worker", "--queue", "operator")),
    ("bot", ("bot",)),
)


@dataclass
class Event:
    """Something the harness did or saw, for the report's timeline."""

    at: float  # wall clock (for a kill: just before the signal)
    kind: str  # kill | aimed-kill | crash | restart | server-restart
    role: str
    detail: str = ""
    pid: int | None = None  # the process (group leader) killed
    held: tuple[str, ...] = ()  # for a kill: the ledger claims live just before it


@dataclass
class Role:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_file: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def start(self) -> None:
        out = self.log_file.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                preexec_fn=functools.partial(die_with_parent, signal.SIGKILL),
            )
        finally:
            out.close()
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()

    async def stop(self, grace: float = 8.0) -> None:
        if self.process is not None:
            await stop_process_group(self.process, grace)


@dataclass
class Deployment:
    data: Path
    server: DevServer
    database_url: str
    pg_name: str | None
    env: dict[str, str]
    roles: dict[str, Role] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    supervising: bool = True
    client: Client | None = None

    @property
    def dialect(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def record(self, kind: str, role: str, detail: str = "", **more: Any) -> None:
        self.events.append(Event(time.time(), kind, role, detail, **more))

    async def start_roles(
        self, operator_env: dict[str, str], reporting_env: dict[str, str] | None = None
    ) -> None:
        hbo = str(Path(sys.executable).with_name("hbo"))
        logs = self.data / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name, args in ROLES:
            env = dict(self.env)
            if role_kind(name) == "operator":
                env.update(operator_env)
            if name == "reporting" and reporting_env:
                env.update(reporting_env)
            role = Role(name, [hbo, *args], env, self.data, logs / f"{name}.log")
            self.roles[name] = role
            await role.start()

    async def kill(
        self, name: str, kind: str = "kill", detail: str = "", held: tuple[str, ...] = ()
    ) -> None:
        """SIGKILL a role (its whole process group) and start it again at once. The kill is
        recorded with the time just before the signal, the pid, and what it `held`."""
        role = self.roles[name]
        at = time.time()
        pid = role.process.pid if role.process is not None else None
        await role.kill()
        self.events.append(Event(at, kind, name, detail, pid=pid, held=held))
        await role.start()

    async def supervise(self) -> None:
        """Restart any role that exits on its own (a crash), until supervision ends."""
        while self.supervising:
            for name, role in self.roles.items():
                if role.process is not None and role.process.returncode is not None:
                    self.record("crash", name, f"exit {role.process.returncode}")
                    await role.start()
            await asyncio.sleep(0.5)

    async def restart_server(self) -> None:
        """Stop the dev server and start it again on the same data file and port."""
        self.record("server-restart", "temporal", "stop")
        await self.server.stop()
        await self.server.start()
        self.record("server-restart", "temporal", "up")

    async def stop_roles(self) -> None:
        self.supervising = False
        await asyncio.gather(*(role.stop() for role in self.roles.values()))


async def _fresh_postgres() -> tuple[str, str] | None:
    import asyncpg

    admin = PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://")
    name = f"hbo_fidelity_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", name


async def _drop_postgres(name: str) -> None:
    import asyncpg

    admin = PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://")
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def deployment(
    data: Path, env: dict[str, str], *, sqlite: bool = False
) -> AsyncIterator[tuple[Deployment, Database]]:
    """The dev server and the app database (migrated once, before any role starts, so the roles
    never race each other's migrations); roles are started by `start_roles`. Everything is
    stopped on exit, whatever happens."""
    await asyncio.to_thread((data / "logs").mkdir, parents=True, exist_ok=True)
    pg = None if sqlite else await _fresh_postgres()
    database_url = pg[0] if pg else f"sqlite+aiosqlite:///{data / 'operator.db'}"
    server = DevServer(
        find_temporal_cli(),
        port=free_port(),
        ui_port=None,
        db_file=data / "temporal.db",
        log_file=data / "logs" / "temporal.log",
    )
    db = Database(database_url)
    await db.migrate()
    await server.start()
    base_env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
    }
    base_env.update(env)
    base_env.update(
        {
            "TEMPORAL_ADDRESS": server.target,
            "HBO_DATA_DIR": str(data),
            "DATABASE_URL": database_url,
        }
    )
    deploy = Deployment(data, server, database_url, pg[1] if pg else None, base_env)
    try:
        deploy.client = await Client.connect(server.target, data_converter=pydantic_data_converter)
        await ensure_search_attributes(deploy.client)
        yield deploy, db
    finally:
        await deploy.stop_roles()
        await server.stop()
        await db.close()
        if pg is not None:
            await _drop_postgres(pg[1])

"""Shared fixtures: one real Temporal dev server per session (the venv's `temporal` binary,
nothing downloaded), the Telegram Bot API emulator, the in-process stack, databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.io.db import Database
from core.io.devserver import DevServer, find_temporal_cli
from core.io.schema_upgrade import upgrade
from tests.support.botapi import BotApiEmulator
from tests.support.chat_checks import assert_no_internals
from tests.support.stack import TEST_TOKEN, Stack, free_port, make_settings, running_stack

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# What enables the tests that skip when a part of the machine is missing (CI has them all
# and fails instead of skipping): a word of the skip reason -> how to enable them.
ENABLE_HINTS = {
    "bubblewrap": "apt-get install bubblewrap (the sandbox tests need a working `bwrap`)",
    "PostgreSQL": "run PostgreSQL on 127.0.0.1:5432 with a `test` database, or set "
    "TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db",
    "openssl": "apt-get install openssl",
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly which tests did not run here, grouped by reason, and how to enable them:
    a green local run with the sandbox or PostgreSQL tests skipped proves less than it seems."""
    skipped = terminalreporter.stats.get("skipped", [])
    by_reason: dict[str, list[str]] = {}
    for report in skipped:
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        by_reason.setdefault(reason.removeprefix("Skipped: "), []).append(report.nodeid)
    if not by_reason:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"{len(skipped)} tests did NOT run here", sep="!", yellow=True)
    for reason, nodeids in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        hint = next((h for word, h in ENABLE_HINTS.items() if word in reason), "")
        write(f"{len(nodeids)} skipped: {reason}", yellow=True, bold=True)
        if hint:
            write(f"    to run them: {hint}")
        for nodeid in nodeids[:5]:
            write(f"    {nodeid}")
        if len(nodeids) > 5:
            write(f"    … and {len(nodeids) - 5} more")


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[DevServer]:
    server = DevServer(find_temporal_cli(), port=free_port(), ui_port=None, db_file=None)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def client(dev_server: DevServer) -> Client:
    return await Client.connect(dev_server.target, data_converter=pydantic_data_converter)


@pytest.fixture(scope="session")
async def botapi() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TEST_TOKEN) as emulator:
        yield emulator
        # Whatever the session's tests did: tracebacks and exception classes stay in the log.
        assert_no_internals(emulator.sent + emulator.edits)


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hbo-data")


@pytest.fixture(scope="session")
async def stack(
    dev_server: DevServer, client: Client, botapi: BotApiEmulator, session_data_dir: Path
) -> AsyncIterator[Stack]:
    """Workers on every queue + the Telegram bot against the emulator, shared by the session."""
    settings = make_settings(session_data_dir, dev_server.target, TELEGRAM_BASE_URL=botapi.base_url)
    async with running_stack(settings, client) as running:
        yield running


# --- databases ------------------------------------------------------------------------------
def _pg_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", PG_DEFAULT)


async def _pg_fresh_database() -> tuple[str, str] | None:
    """Create a throwaway database on the test PostgreSQL; None when there is no server."""
    import asyncpg

    admin = _pg_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    name = f"hbo_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"CI requires PostgreSQL at {admin}: {exc}") from exc
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = _pg_admin_url().rsplit("/", 1)[0]
    return f"{base}/{name}", name


async def _pg_drop(name: str) -> None:
    import asyncpg

    admin = _pg_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite always; PostgreSQL when a server is reachable
    (required under CI=true)."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await upgrade(db.url)  # in-process: the same upgrade, without a child per test
        yield db
        await db.close()
        return
    created = await _pg_fresh_database()
    if created is None:
        pytest.skip(f"no PostgreSQL at {_pg_admin_url()} (set TEST_DATABASE_URL; required in CI)")
    url, name = created
    db = Database(url)
    try:
        await upgrade(db.url)  # in-process: the same upgrade, without a child per test
        yield db
    finally:
        await db.close()
        await _pg_drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with no schema yet: a new SQLite file always; a throwaway
    PostgreSQL database when a server is reachable (required under CI=true)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    created = await _pg_fresh_database()
    if created is None:
        pytest.skip(f"no PostgreSQL at {_pg_admin_url()} (set TEST_DATABASE_URL; required in CI)")
    url, name = created
    try:
        yield url
    finally:
        await _pg_drop(name)

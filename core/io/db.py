"""Database engine and sessions; the schema brought to the newest revision on start.

Every process migrates on start. Most starts find the schema at `HEAD_REVISION` with one plain
query; only when it is not does an upgrade run, in a short-lived child process
(`core/io/schema_upgrade.py`, which holds the lock that serialises concurrent upgrades), so that
Alembic and the migration scripts never stay in a long-lived process's memory.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# The newest migration's revision (core/io/migrations/versions/): a new migration bumps it, and a
# test checks it against Alembic's own head.
HEAD_REVISION = "0010"
# The folder that holds the `core` package: the upgrade child imports it from there.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class SchemaUpgradeError(RuntimeError):
    """The schema upgrade failed; the message carries the end of its error output."""


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": 30}, pool_pre_ping=False
            )
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
        else:
            self.engine = create_async_engine(
                url, pool_size=10, max_overflow=10, pool_pre_ping=True
            )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema to `HEAD_REVISION`: nothing to do after one query when it is
        there; otherwise a child process upgrades it under the migration lock (several
        processes starting at once: one upgrades, the others find the head)."""
        if await self.schema_revision() == HEAD_REVISION:
            return
        await _upgrade_in_child(self.url)

    async def schema_revision(self) -> str | None:
        """The schema's Alembic revision, or None (an empty database)."""
        try:
            async with self.engine.connect() as connection:
                row = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).first()
        except DBAPIError:
            return None  # no alembic_version table yet
        return row[0] if row else None

    async def close(self) -> None:
        await self.engine.dispose()


def sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def _upgrade_in_child(url: str) -> None:
    """`python -m core.io.schema_upgrade` with the URL on stdin (it may hold a password), in this
    process's working directory (a relative SQLite path means the same file)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "core.io.schema_upgrade",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await proc.communicate((url + "\n").encode())
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip()[-2000:]
        raise SchemaUpgradeError(f"the database schema upgrade failed:\n{tail}")

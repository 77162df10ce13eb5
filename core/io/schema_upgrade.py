"""Schema upgrades (Alembic, run programmatically), in the process that needs one.

Every process migrates on start, and a supervisor may start several at the same moment, so an
upgrade runs under a lock held by its own connection: on PostgreSQL a transaction-level
advisory lock on a fixed key, on SQLite an exclusive transaction (`BEGIN EXCLUSIVE`). The first
process upgrades; the others wait for the lock, then read the head revision and do nothing.

`Database.migrate()` runs this module as a short-lived child (`python -m core.io.schema_upgrade`,
the database URL on stdin) and only when the schema is not at `HEAD_REVISION`: Alembic and the
migration scripts never stay in a long-lived process's memory.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.io.db import sqlite_pragmas

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Key of the PostgreSQL advisory lock that serialises migrations (any fixed 64-bit number
# unique to this application; these are the bytes of "hbo-migr").
MIGRATION_LOCK_KEY = 0x68626F2D6D696772
# How long a process waits for another's migration (SQLite busy timeout, seconds).
MIGRATION_WAIT_SECONDS = 120.0


async def upgrade(url: str) -> None:
    """Bring the schema to the newest Alembic revision; safe when several processes start
    at once (one upgrades under the lock, the others then find the head and do nothing)."""
    engine = _migration_engine(url)
    try:
        async with engine.connect() as connection:
            # The lock and the whole upgrade share one transaction: PostgreSQL and SQLite
            # both run DDL transactionally, so a waiting process sees no schema or the head.
            await connection.begin()  # SQLite: BEGIN EXCLUSIVE (see _migration_engine)
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_upgrade, alembic_config(url))
            await connection.commit()
    finally:
        await engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _migration_engine(url: str) -> AsyncEngine:
    """A one-connection engine for migrating. On SQLite the driver's own transaction handling
    is switched off so that the transaction SQLAlchemy begins is `BEGIN EXCLUSIVE` (the
    SQLAlchemy recipe for transactional DDL on pysqlite/aiosqlite)."""
    if not url.startswith("sqlite"):
        return create_async_engine(url, poolclass=NullPool)
    engine = create_async_engine(
        url, poolclass=NullPool, connect_args={"timeout": MIGRATION_WAIT_SECONDS}
    )

    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Switching a new file to WAL needs an exclusive lock; when several processes try at
        # the same moment SQLite refuses all but one at once ("database is locked") instead of
        # waiting its busy timeout (its deadlock avoidance), so wait here.
        deadline = time.monotonic() + MIGRATION_WAIT_SECONDS
        while True:
            try:
                sqlite_pragmas(dbapi_connection, _record)
                break
            except Exception as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(MIGRATION_WAIT_SECONDS * 1000)}")
        cursor.close()
        dbapi_connection.isolation_level = None

    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


def _upgrade(connection: Connection, cfg: Config) -> None:
    cfg.attributes["connection"] = connection  # env.py migrates on this connection
    command.upgrade(cfg, "head")


if __name__ == "__main__":
    # The URL (it may hold a password) comes on stdin, never on the command line.
    asyncio.run(upgrade(sys.stdin.readline().strip()))

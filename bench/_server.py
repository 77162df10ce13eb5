"""The benchmarks' own Temporal dev server (same speed flags as `hbo up`) and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.io.devserver import DevServer, find_temporal_cli
from tests.support.stack import free_port


@asynccontextmanager
async def temporal_dev_server(
    db_file: Path | None = None,
    log_file: Path | None = None,
) -> AsyncIterator[tuple[DevServer, Client]]:
    """A headless dev server on a free port (SQLite file `db_file`, else in memory), stopped
    on exit whatever happens; its output goes to `log_file` when given."""
    server = DevServer(
        find_temporal_cli(), port=free_port(), ui_port=None, db_file=db_file, log_file=log_file
    )
    await server.start()
    try:
        yield server, await Client.connect(server.target, data_converter=pydantic_data_converter)
    finally:
        await server.stop()

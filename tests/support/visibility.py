"""Waiting on Temporal visibility, the one way the tests do it.

Visibility (`count_workflows`, `list_workflows`) is eventually consistent: a workflow that has
started, or closed, shows up in a query a moment later. So a test that expects a count polls
until the count is exactly what it expects, within a bounded time, and fails naming the query
and the last count it saw.

A count of zero proves nothing on its own (what lags is exactly what would make it non-zero):
`tests.support.jobs.assert_no_job_started` shows how to check that nothing started.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client

POLL_SECONDS = 0.1


async def wait_visible(client: Client, query: str, want: int = 1, timeout: float = 20.0) -> None:
    """Until exactly `want` workflows match `query`; AssertionError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    counts: list[int] = []
    while True:
        count = (await client.count_workflows(query)).count
        if count == want:
            return
        if not counts or counts[-1] != count:
            counts.append(count)
        if loop.time() >= deadline:
            raise AssertionError(
                f"visibility: {want} workflow(s) expected within {timeout:g}s, "
                f"counted {' then '.join(map(str, counts))}: {query}"
            )
        await asyncio.sleep(POLL_SECONDS)

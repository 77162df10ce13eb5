"""A fresh Temporal namespace on the test dev server: its task queues are polled only by the
workers a test starts there, so it cannot steal (or lose) tasks to the session's shared stack."""

from __future__ import annotations

import asyncio
import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from core.io.temporal import ensure_search_attributes


async def new_namespace(target: str, admin_client: Client, prefix: str) -> Client:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    request = RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
    )
    for attempt in range(5):
        try:
            await admin_client.workflow_service.register_namespace(request)
            break
        except RPCError as exc:
            # A busy dev server occasionally drops a call ("operation was canceled"); a session
            # fixture that fails once would fail every test that uses it.
            if exc.status == RPCStatusCode.ALREADY_EXISTS:
                break
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    for _ in range(100):
        try:
            client = await Client.connect(
                target, namespace=name, data_converter=pydantic_data_converter
            )
            await ensure_search_attributes(client)
            break
        except Exception:
            await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"namespace {name} never became usable")
    await asyncio.sleep(0.5)  # search attributes take a moment in a new namespace
    return client

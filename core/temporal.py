"""Connecting to Temporal and the names the product registers there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from core.settings import Settings

# Task queues: one per worker kind; `operator` hosts the workflows and the heartbeat's
# activities; `notify` (polled wherever `operator` is) the Telegram sends, rate-limited by the
# server across every worker process.
OPERATOR_QUEUE = "operator"
NOTIFY_QUEUE = "notify"
RESEARCH_QUEUE = "research"
EXECUTION_QUEUE = "execution"
REPORTING_QUEUE = "reporting"
ALL_QUEUES = (OPERATOR_QUEUE, RESEARCH_QUEUE, EXECUTION_QUEUE, REPORTING_QUEUE)

# Custom search attributes: the Web UI and `temporal workflow list --query` filter on these.
SA_JOB_STATUS = SearchAttributeKey.for_keyword("JobStatus")
SA_WORKER_NAME = SearchAttributeKey.for_keyword("WorkerName")
SA_REPORT_CHAT_ID = SearchAttributeKey.for_int("ReportChatId")
SA_SCHEDULE_ID = SearchAttributeKey.for_keyword("JobScheduleId")
SEARCH_ATTRIBUTES = (SA_JOB_STATUS, SA_WORKER_NAME, SA_REPORT_CHAT_ID, SA_SCHEDULE_ID)


def dev_server_search_attribute_args() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int"}
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return args


async def connect(settings: Settings) -> Client:
    tls: bool | TLSConfig = settings.temporal_tls or settings.temporal_api_key is not None
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        tls=tls,
        data_converter=pydantic_data_converter,
    )


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register our custom search attributes on a server that lacks them; returns the added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in SEARCH_ATTRIBUTES
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


class TemporalNotFound(LookupError):
    """Temporal has no such workflow or schedule (its NOT_FOUND answer)."""


@contextlib.contextmanager
def not_found_as(error: Exception | None = None) -> Iterator[None]:
    """Temporal's NOT_FOUND inside the block raised as `error` (the caller's domain error, e.g.
    "no job …"), or as `TemporalNotFound` for a caller that has its own answer for "gone". Any
    other Temporal error is no answer about the thing: it raises as it is."""
    try:
        yield
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise (error if error is not None else TemporalNotFound(exc.message)) from None

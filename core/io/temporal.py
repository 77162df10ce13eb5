"""Connecting to Temporal, registering the search attributes, and its NOT_FOUND answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from core.domain.temporal_names import SEARCH_ATTRIBUTES
from core.io.settings import Settings


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

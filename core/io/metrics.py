"""Prometheus metrics: the app's own (prometheus-client) and the Temporal SDK's (its exporter).

The SDK's metrics come from the SDK's own Prometheus exporter, bound to a loopback port that only
this process tree reads: `/metrics` (core/io/health.py) serves the app's registry followed by what
each exporter of the tree answers (this process's and the isolated worker child's). Family
names never overlap: the app's start with `hbo_`, the SDK's with `temporal_`, and the job
counters that `JobWorkflow` records through the SDK's replay-safe workflow meter are
`hbo_jobs_started_total` / `hbo_jobs_finished_total`.

Counting is one dictionary look-up and an add under a lock: cheap enough for every send.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Sequence

import httpx
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger(__name__)

# No `*_created` series beside every counter and histogram: half the lines, nothing Prometheus
# needs (it detects counter resets itself).
disable_created_metrics()

# --- the app's metrics ---------------------------------------------------------------------------
TELEGRAM_SENDS = Counter(
    "hbo_telegram_sends",
    "Bot API calls by method and outcome (ok, 429, 4xx, 5xx, network)",
    ["method", "outcome"],
)
LEDGER_CLAIMS = Counter(
    "hbo_ledger_claims",
    "Report ledger claims by outcome: claimed (taken, possibly over an expired lease), "
    "reported (already told: refused), held (another reporter holds it: refused for now)",
    ["outcome"],
)
RESULT_DELIVERY = Histogram(
    "hbo_result_delivery_seconds",
    "From a job's final state to its result message sent",
    ["state"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
)
HEARTBEAT_RUNS = Counter("hbo_heartbeat_runs", "Heartbeat runs by outcome", ["outcome"])
HEARTBEAT_IDLE_TICKS = Counter(
    "hbo_heartbeat_idle_ticks", "Heartbeat ticks that found nothing to watch (one check, no log)"
)
LLM_CALLS = Counter("hbo_llm_calls", "LLM calls by outcome (ok, unavailable)", ["outcome"])
LLM_TOKENS = Counter("hbo_llm_tokens", "LLM tokens used, by kind (prompt, completion)", ["kind"])


def sdk_runtime(port: int, *, process: str) -> Runtime:
    """A Temporal runtime whose metrics go to a Prometheus exporter on 127.0.0.1:`port`."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{port}",
                counters_total_suffix=True,  # the Prometheus convention, as the app's counters
            ),
            global_tags={"hbo_process": process},
        )
    )


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 now, for an SDK exporter only this process tree reads."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_sdk_metrics(port: int, *, process: str) -> None:
    """Make the SDK's default runtime export metrics on `port` (before any client connects)."""
    Runtime.set_default(sdk_runtime(port, process=process), error_if_already_set=False)


async def scrape(sdk_ports: Sequence[int], registry: CollectorRegistry = REGISTRY) -> bytes:
    """The exposition text of the app's registry and of every SDK exporter that answers.

    Two processes export the same SDK families (told apart by their `hbo_process` label), so
    the exporters' texts are parsed and each family written once with all of its samples."""
    families: dict[str, Metric] = {}
    async with httpx.AsyncClient(timeout=2.0) as http:
        for port in sdk_ports:
            try:
                response = await http.get(f"http://127.0.0.1:{port}/metrics")
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.info("SDK metrics on port %d not read: %s", port, exc)
                continue
            for family in text_string_to_metric_families(response.text):
                known = families.setdefault(family.name, family)
                if known is not family:
                    known.samples.extend(family.samples)
    sdk = CollectorRegistry(auto_describe=False)
    sdk.register(_Families(list(families.values())))
    return generate_latest(registry) + generate_latest(sdk)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families

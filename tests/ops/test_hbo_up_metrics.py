"""`hbo up` with HBO_METRICS_PORT: one endpoint for the whole process tree, its URL printed; the
isolated execution worker's SDK metrics come through the parent's `/metrics`."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.hbo_up import start_hbo_up
from tests.support.stack import free_port


def _labels_of(text: str, name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def test_hbo_up_serves_one_metrics_endpoint_for_the_tree(tmp_path: Path) -> None:
    port = free_port()
    proc, output = start_hbo_up(tmp_path, HBO_METRICS_PORT=str(port))
    try:
        banner = output.until("you> ", 60)
        assert f"Metrics: http://127.0.0.1:{port}/metrics" in banner
        assert proc.stdin is not None
        proc.stdin.write("/exec echo tree-ok\n")
        proc.stdin.flush()
        output.until("tree-ok", 30)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # each process's activity metric appears once its tasks complete
            text = httpx.get(f"{base}/metrics", timeout=10).text
            ran = {
                (labels.get("hbo_process"), labels.get("task_queue"))
                for labels in _labels_of(text, "temporal_activity_execution_latency_count")
            }
            if {("isolated-worker", "execution"), ("up", "notify")} <= ran:
                break
            assert time.monotonic() < deadline, text[-3000:]
            time.sleep(0.2)
        assert _labels_of(text, "hbo_jobs_finished_total")
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"temporal", "database", "workers", "isolated_worker"}
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

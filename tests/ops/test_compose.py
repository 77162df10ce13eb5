"""docker-compose.temporal.yml follows the Compose specification and Temporal's current
deployment (server image + admin-tools jobs, versions of the bundled server), and every project
container's healthcheck asks its `/readyz`. No Docker engine here: the file is checked."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.io.devserver import find_temporal_cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.temporal.yml"


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the Compose specification schema it vendors (no network)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = _validate(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("    restart: unless-stopped\n", "    restart_policy: x\n", 1))
    result = _validate(broken)
    assert result.returncode != 0
    assert "restart_policy" in result.stdout + result.stderr


def _bundled_versions() -> tuple[str, str]:
    out = subprocess.run(
        [find_temporal_cli(), "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    match = re.search(r"Server (\d+\.\d+\.\d+), UI (\d+\.\d+\.\d+)", out)
    assert match, out
    return match[1], match[2]


def test_temporal_images_match_the_bundled_server(compose: dict[str, Any]) -> None:
    server, ui = _bundled_versions()
    services = compose["services"]
    assert services["temporal"]["image"] == f"temporalio/server:{server}"
    assert services["temporal-schema"]["image"] == f"temporalio/admin-tools:{server}"
    assert services["temporal-admin-tools"]["image"] == f"temporalio/admin-tools:{server}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{ui}"
    assert "temporalio/auto-setup" not in COMPOSE_FILE.read_text(encoding="utf-8")


def test_schemas_are_set_up_before_the_server_and_the_namespace_after(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["temporal"]["depends_on"]["temporal-schema"] == {
        "condition": "service_completed_successfully"
    }
    assert services["temporal-schema"]["depends_on"]["postgresql"] == {
        "condition": "service_healthy"
    }
    (schema,) = services["temporal-schema"]["command"]
    assert "setup-schema" in schema and "update-schema" in schema
    assert "temporal_visibility" in schema
    (admin,) = services["temporal-admin-tools"]["command"]
    assert "temporal operator namespace create" in admin
    shell = shutil.which("sh")
    if shell is not None:
        for script in (schema, admin):
            result = subprocess.run(
                [shell, "-n", "-c", script.replace("$$", "$")], capture_output=True, text=True
            )
            assert result.returncode == 0, result.stderr


def test_every_project_container_is_checked_through_readyz(compose: dict[str, Any]) -> None:
    services = compose["services"]
    built = {name: s for name, s in services.items() if "build" in s}
    assert {"bot", "worker-operator", "worker-execution", "db-migrate"} <= set(built)
    for name, service in built.items():
        env = service["environment"]
        if name == "db-migrate":
            assert service["healthcheck"] == {"disable": True}
            continue
        check = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{env['HBO_METRICS_PORT']}/readyz" in check, name
        assert env["HBO_METRICS_HOST"] == "0.0.0.0", name
        assert [v for v in service["volumes"] if v.endswith(":/data")] == ["hbo-data:/data"]

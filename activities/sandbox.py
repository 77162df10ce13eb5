"""Where a command runs, and as whom: never as root, under bubblewrap wherever it can start.

The execution worker never holds the operator's secrets (its process is started without them),
so in every mode a command finds no bot token or API key in its environment or its parent's.

As whom: when the operator runs as root, every command (plain or sandboxed) runs as the
unprivileged `EXECUTION_SANDBOX_UID`/`GID` (65534, `nobody`, by default): the worker drops to it
before it execs the command or bubblewrap, so any host file the command reaches is checked as that
uid. Its chat's folder and job folder are handed to that uid; the data folder is left searchable
but not readable (its database, logs and Temporal files are the operator's alone). An operator that
is not root already is unprivileged: commands run as that same user.

Where (`EXECUTION_SANDBOX`):
- `auto` (default): under bubblewrap when it can start here (checked once at start-up); where it
  cannot, plainly — with a loud start-up line, and each chat told once what that means.
- `bwrap`: under bubblewrap or not at all: while it cannot start, every command is refused with
  the reason, in the chat, and nothing runs.
- `none`: plainly, on purpose.
Under bubblewrap a command gets its own mount, PID, network, IPC and UTS namespaces (and a user
namespace): its chat's folder read-write, the system folders read-only, a fresh `/proc` that
shows only its own processes, a private `/tmp`, no capabilities, no network unless
`EXECUTION_SANDBOX_NETWORK=true`, and it dies with the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.io.settings import Settings

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
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap)"
# Told once per chat, with the first command that ran there plainly.
PLAIN_MODE_NOTICE = (
    "ℹ️ Commands here run without the sandbox (EXECUTION_SANDBOX={setting}): as {user}, they can "
    "read what that user can read on this machine — other chats' folders included — and use "
    "the network. The operator's README, “What a command can see”, says more."
)
NOTICES_FOLDER = "sandbox-notices"

Mode = Literal["bwrap", "none", "refused"]


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user and group a command runs as (no supplementary groups)."""

    uid: int
    gid: int


def run_as_for(settings: Settings) -> RunAs | None:
    """The user commands run as when the operator is root; None (the operator's own, already
    unprivileged user) otherwise."""
    if os.geteuid() != 0:
        return None
    return RunAs(settings.execution_sandbox_uid, settings.execution_sandbox_gid)


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
    """How commands run: `bwrap` is the binary's path (None: plainly), `run_as` the user they
    run as (None: the operator's own, not root), `refusal` why every command is refused."""

    bwrap: str | None = None
    network: bool = False
    run_as: RunAs | None = None
    refusal: str | None = None
    setting: str = "none"

    @property
    def mode(self) -> Mode:
        if self.refusal is not None:
            return "refused"
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

    def describe(self) -> str:
        """One start-up line: which mode is active, as whom, and what it means."""
        who = self.user_name()
        if self.refusal is not None:
            return self.refusal
        if self.bwrap is not None:
            network = "with the network" if self.network else "no network"
            return (
                f"under bubblewrap (EXECUTION_SANDBOX={self.setting}), as {who}: own chat's "
                f"folder only, own processes only, {network}"
            )
        return (
            f"WITHOUT a sandbox (EXECUTION_SANDBOX={self.setting}), as {who}: they can read what "
            "that user can and use the network; each chat is told once"
        )

    def user_name(self) -> str:
        uid = self.run_as.uid if self.run_as else os.geteuid()
        return f"uid {uid}" + ("" if self.run_as else " (the operator's own user)")


def _searchable_by(path: Path, run_as: RunAs) -> bool:
    st = path.stat()
    if st.st_uid == run_as.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == run_as.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def unreachable_parent(path: Path, run_as: RunAs) -> Path | None:
    """The first folder on the way to `path` that `run_as` may not pass through, if any."""
    for folder in [*reversed(path.parents), path]:
        if folder.is_dir() and not _searchable_by(folder, run_as):
            return folder
    return None


def probe(bwrap: str, run_as: RunAs | None = None, reach: Path | None = None) -> str | None:
    """Start `true` in the sandbox once, as `run_as`, with `reach` (the workspaces folder)
    bound as a command's chat folder is; None when it works, else why it does not."""
    sandbox = Sandbox(bwrap)
    binds = ["--ro-bind", str(reach), str(reach)] if reach is not None else []
    try:
        result = subprocess.run(
            [*sandbox.base_args(), *binds, "--remount-ro", "/", "--", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode == 0:
        return None
    problem = result.stderr.decode("utf-8", errors="replace").strip()[:300] or (
        f"{bwrap} exited with code {result.returncode}"
    )
    if run_as is not None and reach is not None:
        blocked = unreachable_parent(reach, run_as)
        if blocked is not None:
            problem += (
                f" (uid {run_as.uid} cannot pass through {blocked}: give it o+x, or set "
                "HBO_DATA_DIR to a folder it can reach)"
            )
    return problem


_chosen: dict[tuple[object, ...], Sandbox] = {}


def choose_sandbox(settings: Settings) -> Sandbox:
    """The sandbox the settings ask for, as it can start here; decided (and logged) once per
    process and setting."""
    key = (
        settings.execution_sandbox,
        settings.execution_sandbox_network,
        settings.execution_sandbox_bwrap,
        settings.execution_sandbox_uid,
        settings.execution_sandbox_gid,
        settings.workspaces_dir,
        os.geteuid(),
    )
    if key not in _chosen:
        _chosen[key] = _choose(settings)
    return _chosen[key]


def _choose(settings: Settings) -> Sandbox:
    setting, run_as = settings.execution_sandbox, run_as_for(settings)
    if run_as is not None:
        prepare_data_dir(settings.data_path, settings.workspaces_dir)
    plain = Sandbox(run_as=run_as, setting=setting)
    who = plain.user_name()
    if setting == "none":
        log.warning(
            "EXECUTION_SANDBOX=none: commands run plainly, as %s, without the sandbox: they can "
            "read what that user can and use the network (README: What a command can see)",
            who,
        )
        return plain
    bwrap = settings.execution_sandbox_bwrap or shutil.which("bwrap")
    problem: str | None = "bubblewrap (bwrap) is not installed"
    if bwrap is not None:
        settings.workspaces_dir.mkdir(parents=True, exist_ok=True)
        problem = probe(bwrap, run_as, settings.workspaces_dir)
    if problem is None:
        assert bwrap is not None
        network = "with the network" if settings.execution_sandbox_network else "no network"
        log.info(
            "EXECUTION_SANDBOX=%s: commands run under bubblewrap (%s), as %s, %s",
            setting,
            bwrap,
            who,
            network,
        )
        return Sandbox(bwrap, settings.execution_sandbox_network, run_as, setting=setting)
    if setting == "bwrap":
        refusal = (
            f"commands are refused: EXECUTION_SANDBOX=bwrap but bubblewrap cannot start here: "
            f"{problem}; {INSTALL_HINT} or set EXECUTION_SANDBOX=none explicitly, then restart"
        )
        log.error("%s", refusal)
        return Sandbox(run_as=run_as, refusal=refusal, setting=setting)
    log.warning(
        "!!! EXECUTION_SANDBOX=auto and bubblewrap cannot start here (%s): commands run WITHOUT "
        "the sandbox, as %s — they can read what that user can and use the network. To "
        "sandbox them: %s; to say plain mode is meant: EXECUTION_SANDBOX=none",
        problem,
        who,
        INSTALL_HINT,
    )
    return plain


# --- handing folders to the command's user, keeping the data folder from it ------------------

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def _opened(name: str | Path, flags: int, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def hand_over(root: Path, job_dir: Path, run_as: RunAs) -> None:
    """Give `run_as` the chat folder and job folder of `job_dir` (below `root`), and the job
    folder's entries the operator wrote (an uploaded file, a folder), so the command may write
    its own workspace and read what it was given. Every step opens beneath a directory handle
    and follows no link; a file with a second hard link is left alone (it may be a link a
    command planted to another of the operator's files)."""
    relative = job_dir.relative_to(root).parts
    with _opened(root, _DIR_FLAGS) as root_fd:
        parent = root_fd
        with contextlib.ExitStack() as stack:
            for part in relative:
                fd = stack.enter_context(_opened(part, _DIR_FLAGS, dir_fd=parent))
                _give(fd, run_as)
                parent = fd
            for name in os.listdir(parent):
                _give_entry(parent, name, run_as)


def _give(fd: int, run_as: RunAs) -> None:
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) != (run_as.uid, run_as.gid):
        os.fchown(fd, run_as.uid, run_as.gid)


def _give_entry(dir_fd: int, name: str, run_as: RunAs) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if st.st_uid != os.geteuid() or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        with _opened(name, flags, dir_fd=dir_fd) as fd:
            opened = os.fstat(fd)
            if opened.st_uid == os.geteuid() and (
                stat.S_ISDIR(opened.st_mode)
                or (stat.S_ISREG(opened.st_mode) and opened.st_nlink == 1)
            ):
                os.fchown(fd, run_as.uid, run_as.gid)
    except OSError as exc:  # gone meanwhile, or replaced by something not to be opened
        log.debug("not handed over: %s (%s)", name, exc)


def prepare_data_dir(data_path: Path, workspaces_dir: Path) -> list[str]:
    """Keep the data folder from the commands' user: the data folder and the workspaces folder
    searchable but not listable (0711), and every other entry of the data folder the operator
    owns (database, logs, Temporal's files) closed to group and others. Returns what changed."""
    data_path.mkdir(parents=True, exist_ok=True)
    workspaces_dir.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    for folder in (data_path, workspaces_dir):
        with _opened(folder, _DIR_FLAGS) as fd:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if os.fstat(fd).st_uid == os.geteuid() and mode != 0o711:
                os.fchmod(fd, 0o711)
                changed.append(f"{folder} {oct(mode)} -> 0o711")
    with _opened(data_path, _DIR_FLAGS) as data_fd:
        for name in os.listdir(data_fd):
            if data_path / name == workspaces_dir:
                continue
            changed += _close_entry(data_fd, name)
    if changed:
        log.info("data folder closed to the commands' user: %s", "; ".join(changed))
    return changed


def _close_entry(dir_fd: int, name: str) -> list[str]:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return []
        # O_PATH: this process may hold the file open elsewhere (its own SQLite database), and
        # closing an ordinary descriptor of a file drops every POSIX lock the process holds on
        # it — SQLite's included. A path descriptor is not a reader: closing it drops nothing.
        flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
        with _opened(name, flags, dir_fd=dir_fd) as fd:
            opened = os.fstat(fd)
            mode = stat.S_IMODE(opened.st_mode)
            if opened.st_uid != os.geteuid() or not mode & 0o077:
                return []
            os.chmod(f"/proc/self/fd/{fd}", mode & ~0o077)  # fchmod refuses a path descriptor
            return [f"{name} {oct(mode)} -> {oct(mode & ~0o077)}"]
    except OSError:
        return []


def close_secret_file(path: Path) -> bool:
    """Make a secrets file (`.env`) the operator owns readable by the operator only; True
    when its mode changed."""
    try:
        with _opened(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC) as fd:
            st = os.fstat(fd)
            mode = stat.S_IMODE(st.st_mode)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or not mode & 0o077:
                return False
            os.fchmod(fd, mode & ~0o077)
    except OSError:
        return False
    log.warning("%s was readable by other users; now %s (owner only)", path, oct(mode & ~0o077))
    return True


# --- the one-time plain-mode notice ----------------------------------------------------------


def plain_mode_notice(sandbox: Sandbox, data_path: Path, chat_folder: str, job_id: str) -> str:
    """The plain-mode line for this job's result when its chat has not had it yet (or when this
    very job carried it before, as a retry of the step), else "". Kept per chat in a folder of
    the data folder that commands cannot reach when the operator is root."""
    if sandbox.mode != "none":
        return ""
    folder = data_path / NOTICES_FOLDER
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        marker = folder / chat_folder
        if marker.exists() and marker.read_text().strip() != job_id:
            return ""
        marker.write_text(job_id)
    except OSError as exc:
        log.warning("plain-mode notice not recorded for %s: %s", chat_folder, exc)
    return PLAIN_MODE_NOTICE.format(setting=sandbox.setting, user=sandbox.user_name())

"""Process hygiene: children that die with their parent, processes that keep their memory and
environment from other processes of the same user, and a supervised child started without the
operator's secrets."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4

# What a secret-free child keeps from its parent's environment (besides names asked for).
BASE_ENV_NAMES = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "VIRTUAL_ENV",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
STOP_GRACE_SECONDS = 10.0
QUICK_EXIT_SECONDS = 30.0
MAX_QUICK_EXITS = 3


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value, 0, 0, 0)


def die_with_parent(sig: int = signal.SIGKILL) -> None:  # pragma: no cover - child, pre-exec
    """Ask Linux to send `sig` to this child when its parent dies, so nothing is orphaned."""
    _prctl(_PR_SET_PDEATHSIG, sig)


def set_not_dumpable() -> None:
    """Keep this process's /proc files (environ, memory, fds) from other processes of the same
    non-root user, and write no core dump. Root with CAP_SYS_PTRACE still reads them."""
    _prctl(_PR_SET_DUMPABLE, 0)


def scrub_environ_block(names: Sequence[str]) -> list[str]:
    """Overwrite the values of `names` in this process's initial environment block, the one
    `/proc/<pid>/environ` shows to any process allowed to look (root always is), with `*`.
    `os.environ` (a copy) is left alone. Returns the names scrubbed; Linux only, best effort."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50, 51)
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            block = mem.read(end - start)
            scrubbed, done = _scrubbed(block, {n.encode() for n in names})
            if done:
                mem.seek(start)
                mem.write(scrubbed)
    except (OSError, ValueError, IndexError):
        return []
    return done


def _scrubbed(block: bytes, names: set[bytes]) -> tuple[bytes, list[str]]:
    entries, done = [], []
    for entry in block.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name in names and value:
            done.append(name.decode())
            entry = name + b"=" + b"*" * len(value)
        entries.append(entry)
    return b"\0".join(entries), done


def secret_free_env(keep: Iterable[str], secrets: Sequence[str]) -> dict[str, str]:
    """A child environment: the base names and `keep` from ours, never a name in `secrets`."""
    names = dict.fromkeys([*BASE_ENV_NAMES, *keep])
    return {n: os.environ[n] for n in names if n in os.environ and n not in secrets}


async def supervise(
    name: str,
    argv: Sequence[str],
    *,
    env: dict[str, str],
    stdin_data: bytes,
    stop: asyncio.Event,
) -> None:
    """Run `argv` until `stop`, restarting it when it exits; `stdin_data` is written to its
    stdin and the pipe closed (so nothing it needs sits in its environment). It dies with us.
    Exiting within `QUICK_EXIT_SECONDS` of its start `MAX_QUICK_EXITS` times in a row raises."""
    quick_exits = 0
    while not stop.is_set():
        started = time.monotonic()
        code = await _run_once(argv, env, stdin_data, stop)
        if code is None:
            return
        quick_exits = quick_exits + 1 if time.monotonic() - started < QUICK_EXIT_SECONDS else 0
        if quick_exits >= MAX_QUICK_EXITS:
            raise RuntimeError(f"{name} exited with code {code} right after start, {quick_exits}x")
        log.error("%s exited with code %s; restarting it", name, code)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), quick_exits)


async def _run_once(
    argv: Sequence[str], env: dict[str, str], stdin_data: bytes, stop: asyncio.Event
) -> int | None:
    """The child's exit code, or None when `stop` ended it."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdin=asyncio.subprocess.PIPE, preexec_fn=die_with_parent
    )
    assert proc.stdin is not None
    with contextlib.suppress(ConnectionError):
        proc.stdin.write(stdin_data)
        await proc.stdin.drain()
    proc.stdin.close()
    exited = asyncio.create_task(proc.wait())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not exited.done():
            await _stop(proc)
    return None if stop.is_set() else proc.returncode


async def _stop(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def stop_process_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM to the process's group (it leads its own session), SIGKILL after `grace`
    seconds; returns once the process is gone. A process already gone is fine."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


# How often an `hbo` process hands its C heap's free pages back: cheap (well under a millisecond
# for these heaps), and soon enough that an idle process holds only what it uses.
HEAP_RELEASE_SECONDS = 5.0


def release_free_heap() -> bool:
    """Give the free pages inside the C heap back to the system (glibc's `malloc_trim`); False
    where there is no glibc. glibc returns only the heap's free top by itself: what Python and
    the Temporal SDK's native threads freed in between (start-up, a job's messages) stays
    resident, several MB per process, until this."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    trim(0)
    return True


async def release_free_heap_until(stop: asyncio.Event, every: float = HEAP_RELEASE_SECONDS) -> None:
    """`release_free_heap` every `every` seconds until `stop` is set (where there is no glibc,
    only the wait: it ends with `stop`, like the parts it runs beside)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if not stop.is_set() and not release_free_heap():
            await stop.wait()

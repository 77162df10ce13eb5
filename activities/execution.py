"""Execution worker: runs a command in the job's workspace.

No shell unless the deployment enables it; a time limit; an output cap (the full output goes to a
file in the workspace); a scrubbed environment; its own process group, killed on cancellation or
timeout; activity heartbeats carrying the output tail, so progress is visible and a dead worker
is noticed by Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time
from collections import deque
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.jobs import StepInput, StepOutput
from core.process import die_with_parent
from core.registry import WorkerDefinition
from core.settings import Settings
from core.temporal import EXECUTION_QUEUE
from core.workspace import workspace_dir

HEARTBEAT_EVERY_SECONDS = 1.0
TAIL_LINES = 15
KILL_GRACE_SECONDS = 2.0


class ExecutionParams(BaseModel):
    command: str = Field(min_length=1, max_length=8000)
    shell: bool = False


class ExecutionProgress(BaseModel):
    """Heartbeat details: what a status query shows while the step runs."""

    pid: int
    elapsed_seconds: float
    output_bytes: int
    tail: str


class CommandRun(BaseModel):
    exit_code: int | None
    timed_out: bool
    output: str
    output_bytes: int
    truncated: bool
    log_file: str
    duration_seconds: float


def _bad_input(message: str) -> ApplicationError:
    return ApplicationError(message, type="BadCommand", non_retryable=True)


def build_argv(params: ExecutionParams, allow_shell: bool) -> list[str]:
    if params.shell:
        if not allow_shell:
            raise _bad_input(
                "shell mode is disabled on this deployment "
                "(set EXECUTION_ALLOW_SHELL=true to allow)"
            )
        return ["/bin/sh", "-c", params.command]
    try:
        argv = shlex.split(params.command)
    except ValueError as exc:
        raise _bad_input(f"cannot parse command: {exc}") from None
    if not argv:
        raise _bad_input("empty command")
    return argv


def scrubbed_env(allowlist: list[str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in allowlist if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def _kill_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after a short grace."""
    _kill_group(proc, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE_SECONDS)
    except TimeoutError:
        _kill_group(proc, signal.SIGKILL)
        await proc.wait()
    # Children that ignored SIGTERM may outlive the leader; the group id still reaches them.
    _kill_group(proc, signal.SIGKILL)


async def run_command(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_seconds: float,
    output_cap: int,
    log_file: Path,
    on_progress: object = None,
) -> CommandRun:
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # own process group: cancellation kills every child
            # If this worker dies (even by SIGKILL), the command dies too instead of running on
            # unsupervised while Temporal retries the step elsewhere.
            preexec_fn=die_with_parent,
        )
    except FileNotFoundError:
        raise _bad_input(f"command not found: {argv[0]}") from None
    except PermissionError:
        raise _bad_input(f"permission denied: {argv[0]}") from None

    assert proc.stdout is not None
    captured = bytearray()
    total = 0
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    last_beat = 0.0

    def beat(force: bool = False) -> None:
        nonlocal last_beat
        now = time.monotonic()
        if callable(on_progress) and (force or now - last_beat >= HEARTBEAT_EVERY_SECONDS):
            last_beat = now
            on_progress(
                ExecutionProgress(
                    pid=proc.pid,
                    elapsed_seconds=round(now - started, 1),
                    output_bytes=total,
                    tail="\n".join(tail)[-1500:],
                )
            )

    async def pump() -> None:
        nonlocal total
        assert proc.stdout is not None
        with log_file.open("wb") as log:
            while True:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                log.write(chunk)
                total += len(chunk)
                room = output_cap - len(captured)
                if room > 0:
                    captured.extend(chunk[:room])
                for line in chunk.decode("utf-8", errors="replace").splitlines():
                    if line.strip():
                        tail.append(line[:300])
                beat()

    timed_out = False
    reader = asyncio.create_task(pump())
    try:
        deadline = started + timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                await _terminate(proc)
                break
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), min(remaining, 1.0))
                break
            except TimeoutError:
                beat()  # a quiet command still proves it is alive
        await asyncio.wait_for(reader, 5.0)
    except BaseException:
        # Cancellation (from Temporal via heartbeat) or any error: never leave the group running.
        await _terminate(proc)
        reader.cancel()
        raise
    finally:
        if not reader.done():
            reader.cancel()
    text = captured.decode("utf-8", errors="replace")
    return CommandRun(
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        output=text,
        output_bytes=total,
        truncated=total > len(captured),
        log_file=log_file.name,
        duration_seconds=round(time.monotonic() - started, 3),
    )


class ExecutionActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="execution.run")
    async def run(self, step: StepInput) -> StepOutput:
        try:
            params = ExecutionParams.model_validate(step.params)
        except ValidationError as exc:
            raise _bad_input(f"invalid execution step: {exc.errors()[0]['msg']}") from None
        argv = build_argv(params, self.settings.execution_allow_shell)
        cwd = workspace_dir(self.settings.workspaces_dir, step.workspace)
        info = activity.info()
        log_file = cwd / f"step{step.step_index + 1}-output.log"
        timeout = min(step.timeout_seconds, self.settings.task_max_run_seconds)
        activity.logger.info("job %s: running %s (attempt %s)", step.job_id, argv[0], info.attempt)
        result = await run_command(
            argv,
            cwd=cwd,
            env=scrubbed_env(self.settings.execution_env_allowlist),
            timeout_seconds=timeout,
            output_cap=self.settings.execution_output_cap_bytes,
            log_file=log_file,
            on_progress=lambda progress: activity.heartbeat(progress.model_dump()),
        )
        if result.timed_out:
            raise ApplicationError(
                f"command timed out after {timeout}s (its process group was killed)",
                result.model_dump(),
                type="CommandTimeout",
            )
        if result.exit_code != 0:
            tail = "\n".join(result.output.strip().splitlines()[-5:])
            raise ApplicationError(
                f"command exited with code {result.exit_code}" + (f": {tail}" if tail else ""),
                result.model_dump(),
                type="CommandFailed",
            )
        return StepOutput(
            worker=step.worker,
            ok=True,
            summary=f"`{params.command}` exited 0 in {result.duration_seconds:.2f}s",
            output=result.output,
            files=[result.log_file],
            data={
                "exit_code": result.exit_code,
                "output_bytes": result.output_bytes,
                "truncated": result.truncated,
                "command": params.command,
            },
        )


WORKER = WorkerDefinition(
    name="execution",
    description="Runs commands and scripts in the job's workspace (argv, no shell by default).",
    task_queue=EXECUTION_QUEUE,
    step_activity="execution.run",
    activities=lambda settings: [ExecutionActivities(settings).run],
    capabilities=("commands", "scripts", "files"),
    input_param="command",
    keywords=("run", "exec", "execute", "command", "script", "check", "disk", "df", "ls"),
    heartbeat_timeout_seconds=10,
    runs_code=True,
)

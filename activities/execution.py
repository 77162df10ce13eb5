"""Execution worker: runs a command in the job's workspace.

No shell unless the deployment enables it; a time limit; an output cap (the full output goes to a
file in the workspace); a scrubbed environment; its own process group, killed on cancellation or
timeout; activity heartbeats carrying the output tail, so progress is visible and a dead worker
is noticed by Temporal. Where it runs (plainly or under bubblewrap) is `activities.sandbox`'s.
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
from typing import BinaryIO

from pydantic import BaseModel, Field, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.sandbox import RunAs, choose_sandbox, hand_over, plain_mode_notice
from activities.step_progress import LongStepNotice
from core.domain.jobs.models import StepInput, StepOutput
from core.domain.registry import WorkerDefinition
from core.domain.temporal_names import EXECUTION_QUEUE
from core.io.process import die_with_parent
from core.io.settings import Settings
from core.io.workspace import Workspace, WorkspaceError, chat_folder_of

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
    for _ in range(50):  # and they are gone (or zombies) before the step ends, within a second
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            break
        await asyncio.sleep(0.02)


async def _spawn(
    argv: list[str], cwd: Path, env: dict[str, str], run_as: RunAs | None
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
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
            # Never root: the child drops to the unprivileged user before it execs the command
            # (or bubblewrap), so every host file it reaches is checked as that user.
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
    except FileNotFoundError:
        raise _bad_input(f"command not found: {argv[0]}") from None
    except PermissionError:
        raise _bad_input(f"permission denied: {argv[0]}") from None


class _Output:
    """Reads a command's output: the whole of it to the log file, the first `cap` bytes kept,
    the last lines as a tail for progress heartbeats."""

    def __init__(self, proc: asyncio.subprocess.Process, cap: int, on_progress: object) -> None:
        self.proc, self.cap, self.on_progress = proc, cap, on_progress
        self.started = time.monotonic()
        self.captured = bytearray()
        self.total = 0
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.last_beat = 0.0

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if callable(self.on_progress) and (
            force or now - self.last_beat >= HEARTBEAT_EVERY_SECONDS
        ):
            self.last_beat = now
            self.on_progress(
                ExecutionProgress(
                    pid=self.proc.pid,
                    elapsed_seconds=round(now - self.started, 1),
                    output_bytes=self.total,
                    tail="\n".join(self.tail)[-1500:],
                )
            )

    async def pump(self, log: BinaryIO) -> None:
        assert self.proc.stdout is not None
        with log:
            while chunk := await self.proc.stdout.read(65536):
                log.write(chunk)
                self.total += len(chunk)
                room = self.cap - len(self.captured)
                if room > 0:
                    self.captured.extend(chunk[:room])
                for line in chunk.decode("utf-8", errors="replace").splitlines():
                    if line.strip():
                        self.tail.append(line[:300])
                self.beat()

    async def wait(self, timeout_seconds: float) -> bool:
        """Wait for the command to end, beating while it is quiet; True when it timed out
        (its process group is killed then)."""
        deadline = self.started + timeout_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), min(remaining, 1.0))
                return False
            except TimeoutError:
                self.beat()  # a quiet command still proves it is alive
        await _terminate(self.proc)
        return True


async def run_command(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_seconds: float,
    output_cap: int,
    log: BinaryIO,
    log_name: str,
    on_progress: object = None,
    run_as: RunAs | None = None,
) -> CommandRun:
    """Run `argv`, its whole output streamed into `log` (opened by the caller, closed here;
    `log_name` is what the result calls it). For a job it is a file that
    `Workspace.open_log_for_write` made, so the command cannot point the operator's writes
    anywhere by swapping the log for a link."""
    try:
        proc = await _spawn(argv, cwd, env, run_as)
    except BaseException:
        log.close()
        raise
    output = _Output(proc, output_cap, on_progress)
    reader = asyncio.create_task(output.pump(log))
    try:
        timed_out = await output.wait(timeout_seconds)
        await asyncio.wait_for(reader, 5.0)
    except BaseException:
        # Cancellation (from Temporal via heartbeat) or any error: never leave the group running.
        await _terminate(proc)
        reader.cancel()
        raise
    finally:
        if not reader.done():
            reader.cancel()
    return CommandRun(
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        output=output.captured.decode("utf-8", errors="replace"),
        output_bytes=output.total,
        truncated=output.total > len(output.captured),
        log_file=log_name,
        duration_seconds=round(time.monotonic() - output.started, 3),
    )


class _LiveReport:
    """Heartbeats the step's progress and asks for a live card once it runs long."""

    def __init__(self, step: StepInput, after: float) -> None:
        self.notice = LongStepNotice(step, after)

    def beat(self, progress: ExecutionProgress) -> None:
        activity.heartbeat(progress.model_dump())
        self.notice.check(progress.elapsed_seconds)


class ExecutionActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sandbox = choose_sandbox(settings)

    @activity.defn(name="execution.run")
    async def run(self, step: StepInput) -> StepOutput:
        try:
            params = ExecutionParams.model_validate(step.params)
        except ValidationError as exc:
            raise _bad_input(f"invalid execution step: {exc.errors()[0]['msg']}") from None
        if self.sandbox.refusal is not None:
            # Fails closed: the sandbox was asked for and cannot start, so nothing runs; one
            # attempt, and the chat reads why.
            raise ApplicationError(self.sandbox.refusal, type="SandboxRefused", non_retryable=True)
        argv = build_argv(params, self.settings.execution_allow_shell)
        info = activity.info()
        log_name = f"step{step.step_index + 1}-output.log"
        timeout = min(step.timeout_seconds, self.settings.task_max_run_seconds)
        activity.logger.info("job %s: running %s (attempt %s)", step.job_id, argv[0], info.attempt)
        try:
            with Workspace.open(self.settings.workspaces_dir, step.workspace) as workspace:
                # A command of an earlier attempt may have left a link under the log's name.
                log = workspace.open_log_for_write(log_name)
                cwd = workspace.path
        except WorkspaceError as exc:
            raise _bad_input(f"the job's workspace cannot be used: {exc}") from None
        root = self.settings.workspaces_dir.resolve()
        run_as = self.sandbox.run_as
        if run_as is not None:
            try:
                hand_over(root, cwd, run_as)
            except BaseException:
                log.close()
                raise
        chat_dir = root / chat_folder_of(step.workspace)
        env = scrubbed_env(self.settings.execution_env_allowlist)
        if run_as is not None and self.sandbox.bwrap is None:
            env["HOME"] = str(cwd)  # the operator's home is not the command's
        result = await run_command(
            self.sandbox.wrap(argv, chat_dir=chat_dir, cwd=cwd),
            cwd=cwd,
            env=env,
            run_as=run_as,
            timeout_seconds=timeout,
            output_cap=self.settings.execution_output_cap_bytes,
            log=log,
            log_name=log_name,
            on_progress=_LiveReport(step, self.settings.live_card_after_seconds).beat,
        )
        if result.timed_out:
            raise ApplicationError(
                f"command timed out after {timeout}s (its process group was killed)",
                result.model_dump(),
                type="CommandTimeout",
            )
        if self.sandbox.bwrap and result.output.startswith("bwrap: execvp "):
            raise _bad_input(f"command not found: {argv[0]}")
        if result.exit_code != 0:
            tail = "\n".join(result.output.strip().splitlines()[-5:])
            raise ApplicationError(
                f"command exited with code {result.exit_code}" + (f": {tail}" if tail else ""),
                result.model_dump(),
                type="CommandFailed",
            )
        summary = f"`{params.command}` exited 0 in {result.duration_seconds:.2f}s"
        notice = plain_mode_notice(
            self.sandbox, self.settings.data_path, chat_dir.name, step.job_id
        )
        return StepOutput(
            worker=step.worker,
            ok=True,
            summary=f"{summary}\n{notice}" if notice else summary,
            output=result.output,
            files=[result.log_file],
            data={
                "exit_code": result.exit_code,
                "output_bytes": result.output_bytes,
                "truncated": result.truncated,
                "command": params.command,
                "sandbox": self.sandbox.mode,
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
    plain_result=True,
)

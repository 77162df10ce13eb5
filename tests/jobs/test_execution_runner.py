"""The execution worker's process handling, without Temporal: argv, caps, timeouts, groups."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.execution import ExecutionParams, build_argv, run_command, scrubbed_env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_argv_is_split_without_a_shell() -> None:
    assert build_argv(ExecutionParams(command="echo 'a b' $HOME; rm -rf /"), False) == [
        "echo", "a b", "$HOME;", "rm", "-rf", "/",
    ]  # fmt: skip
    with pytest.raises(ApplicationError, match="shell mode is disabled") as err:
        build_argv(ExecutionParams(command="echo hi", shell=True), False)
    assert err.value.non_retryable
    assert build_argv(ExecutionParams(command="echo hi", shell=True), True)[:2] == ["/bin/sh", "-c"]
    with pytest.raises(ApplicationError, match="cannot parse"):
        build_argv(ExecutionParams(command="echo 'unterminated"), False)


def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = scrubbed_env(["PATH", "LANG"])
    assert "TELEGRAM_BOT_TOKEN" not in env and env["LANG"] == "C.UTF-8"


async def test_output_is_capped_and_saved_whole(tmp_path: Path) -> None:
    result = await run_command(
        ["python3", "-c", "print('x' * 50000)"],
        cwd=tmp_path,
        env=scrubbed_env(["PATH"]),
        timeout_seconds=20,
        output_cap=1000,
        log=(tmp_path / "out.log").open("wb"),
        log_name="out.log",
    )
    assert result.exit_code == 0 and result.truncated
    assert len(result.output) == 1000 and result.output_bytes == 50001
    assert (tmp_path / "out.log").stat().st_size == 50001


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    result = await run_command(
        ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"],
        cwd=tmp_path,
        env=scrubbed_env(["PATH"]),
        timeout_seconds=1,
        output_cap=1000,
        log=(tmp_path / "out.log").open("wb"),
        log_name="out.log",
    )
    assert result.timed_out and result.exit_code is None
    child = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        await asyncio.sleep(0.1)
    assert not _alive(child), "a grandchild survived the timeout"


async def test_cancellation_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    beats: list[object] = []
    task = asyncio.create_task(
        run_command(
            ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; echo started; wait"],
            cwd=tmp_path,
            env=scrubbed_env(["PATH"]),
            timeout_seconds=60,
            output_cap=1000,
            log=(tmp_path / "out.log").open("wb"),
            log_name="out.log",
            on_progress=beats.append,
        )
    )
    # Wait for the background child and for the first progress beat (it follows the first
    # output line): on a loaded machine either can take seconds.
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text().strip() and beats:
            break
        await asyncio.sleep(0.1)
    assert beats, "no progress heartbeat was emitted"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(int(pid_file.read_text()))


async def test_missing_command_is_a_clear_non_retryable_error(tmp_path: Path) -> None:
    with pytest.raises(ApplicationError, match="command not found: no-such-binary") as err:
        await run_command(
            ["no-such-binary"],
            cwd=tmp_path,
            env=scrubbed_env(["PATH"]),
            timeout_seconds=5,
            output_cap=100,
            log=(tmp_path / "o.log").open("wb"),
            log_name="o.log",
        )
    assert err.value.non_retryable

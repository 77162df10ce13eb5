"""Least privilege for commands: the execution worker runs in a child process that holds none of
the operator's secrets; a command never runs as root; under bubblewrap (the default wherever it
can start) a command sees its own chat's workspace only, the system read-only, its own processes
only and no network; asked for and unable to start, the sandbox refuses commands instead of
running them without it.

The end-to-end tests run the real composition: the operator's workers in this process (which
holds fake secrets in its settings and environment) and the execution queue in the supervised
secret-free child that `hbo up` starts, on a fresh namespace of the test dev server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import sandbox as sandbox_module
from activities.execution import CommandRun, ExecutionActivities, run_command, scrubbed_env
from activities.sandbox import (
    Sandbox,
    choose_sandbox,
    close_secret_file,
    hand_over,
    prepare_data_dir,
)
from core.domain.jobs.models import JobState, StepInput, StepOutput
from core.domain.temporal_names import EXECUTION_QUEUE
from core.io.devserver import DevServer
from core.io.process import supervise
from core.io.settings import SECRET_ENV_NAMES, Settings
from core.io.workspace import workspace_dir
from hbo.isolated import run_isolated
from hbo.isolated_worker import cmd_isolated_worker, isolated_settings
from hbo.workers import split_queues
from tests.support.botapi import BotApiEmulator
from tests.support.llm_server import ScriptedLLM, text
from tests.support.namespaces import new_namespace
from tests.support.sandbox import (
    bwrap_or_skip,
    python_command,
    reachable_folder,
    run_as_here,
)
from tests.support.stack import (
    ALLOWED_USER,
    TEST_TOKEN,
    Stack,
    free_port,
    make_settings,
    running_stack,
)

FAKE_OPENAI_KEY = "sk-fake-operator-secret-5b1c"
FAKE_TEMPORAL_KEY = "tmprl-fake-operator-secret-77ad"
FAKE_DB_PASSWORD = "fake-db-password-c0ffee"
SECRETS = (TEST_TOKEN, FAKE_OPENAI_KEY, FAKE_TEMPORAL_KEY, FAKE_DB_PASSWORD)
_python = python_command


# Prints the environment and command line of every ancestor it can see, and of every process
# in its /proc (under bubblewrap that is only the sandbox's own).
ENVIRON_PROBE = """
import os
seen = set()
pid = os.getppid()
while pid > 1 and pid not in seen:
    seen.add(pid)
    for name in ("environ", "cmdline"):
        try:
            print(pid, name, open(f"/proc/{pid}/{name}", "rb").read().replace(b"\\0", b" "))
        except OSError as exc:
            print(pid, name, "error", exc)
    try:
        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except OSError:
        break
print("parent", os.getppid(), "visible", sorted(p for p in os.listdir("/proc") if p.isdigit()))
"""


@pytest.fixture
def data() -> Iterator[Path]:
    """A data folder the commands' unprivileged user can reach (unlike pytest's tmp_path)."""
    yield from reachable_folder()


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decides the sandbox anew (the choice is cached per process)."""
    monkeypatch.setattr(sandbox_module, "_chosen", {})


@contextlib.contextmanager
def secret_holder() -> Iterator[int]:
    """A process of the operator's user holding a fake secret in its environment: its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        env={**os.environ, "HOLDER_SECRET": FAKE_OPENAI_KEY},
    )
    try:
        # Until the holder has exec'd: /proc/<pid>/environ reads empty while it is in exec.
        environ = Path(f"/proc/{proc.pid}/environ")
        for _ in range(500):
            if FAKE_OPENAI_KEY.encode() in environ.read_bytes():
                break
            time.sleep(0.01)
        assert FAKE_OPENAI_KEY.encode() in environ.read_bytes()
        yield proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)


# --- the sandbox itself, without Temporal ---------------------------------------------------


def _workspace(root: Path, folder: str, sandbox: Sandbox) -> Path:
    path = workspace_dir(root, folder)
    if sandbox.run_as is not None:
        hand_over(root.resolve(), path, sandbox.run_as)
    return path


async def _run(sandbox: Sandbox, cwd: Path, code: str) -> CommandRun:
    argv = sandbox.wrap(["python3", "-c", code], chat_dir=cwd.parent, cwd=cwd)
    return await run_command(
        argv,
        cwd=cwd,
        env=scrubbed_env(["PATH"]),
        timeout_seconds=60,
        output_cap=20_000,
        log=(cwd / "out.log").open("wb"),
        log_name="out.log",
        run_as=sandbox.run_as,
    )


def _bwrap_sandbox(**kw: Any) -> Sandbox:
    return Sandbox(bwrap_or_skip(), run_as=run_as_here(), setting="bwrap", **kw)


async def test_bwrap_system_is_read_only_and_proc_is_its_own(data: Path) -> None:
    sandbox = _bwrap_sandbox()
    cwd = _workspace(data / "workspaces", "chat-1/job-a", sandbox)
    marker = f"hbo-sandbox-{os.getpid()}-{id(data)}"
    (data / "host-only.txt").write_text("host")
    code = f"""
import os
for path in ("/usr/x", "/etc/x", "/x"):
    try:
        open(path, "w").write("x"); print("wrote", path)
    except OSError as exc:
        print("refused", path, exc.strerror)
open("mine.txt", "w").write("ok"); print("workspace ok")
open("/tmp/{marker}", "w").write("private"); print("tmp ok")
print("host file seen", os.path.exists("{data / "host-only.txt"}"))
print("shadow", os.path.exists("/etc/shadow"))
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("uid", os.getuid(), "capeff", [l for l in open("/proc/self/status") if "CapEff" in l])
"""
    result = await _run(sandbox, cwd, code)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "wrote" not in out and out.count("refused") == 3, out
    assert "workspace ok" in out and (cwd / "mine.txt").read_text() == "ok"
    assert "tmp ok" in out and not (Path("/tmp") / marker).exists()
    assert "host file seen False" in out  # the host's /tmp is not there, only its workspace
    assert "shadow False" in out
    pids = json.loads(out.split("pids ", 1)[1].splitlines()[0])
    assert max(pids) < 10, out  # a fresh PID namespace: no operator, no other chat's command
    assert "0000000000000000" in out  # no capabilities, even when started as root


async def test_bwrap_cannot_see_or_read_the_operators_processes(data: Path) -> None:
    """Own PID namespace: the operator's processes are not in its /proc, and the environ of one
    holding a secret cannot be read by its pid (even though, as root, this test can)."""
    sandbox = _bwrap_sandbox()
    cwd = _workspace(data / "workspaces", "chat-1/job-a", sandbox)
    with secret_holder() as holder:
        code = f"""
import os
print("visible", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
try:
    print("environ", open("/proc/{holder}/environ", "rb").read())
except OSError as exc:
    print("cannot read environ:", exc.strerror)
"""
        result = await _run(sandbox, cwd, code)
    out = result.output
    assert result.exit_code == 0, out
    assert "cannot read environ" in out and FAKE_OPENAI_KEY not in out, out
    visible = json.loads(out.split("visible ", 1)[1].splitlines()[0])
    assert holder not in visible and os.getpid() not in visible and max(visible) < 10, out


async def test_bwrap_has_no_network_unless_allowed(data: Path) -> None:
    bwrap_or_skip()
    cwd = _workspace(data / "workspaces", "chat-1/job-a", _bwrap_sandbox())
    connections: list[str] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append("hit")
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close(); print("connected")
except OSError as exc:
    print("no connection:", exc)
"""
    async with server:
        closed = await _run(_bwrap_sandbox(), cwd, code)
        assert "no connection" in closed.output and not connections, closed.output
        opened = await _run(_bwrap_sandbox(network=True), cwd, code)
        assert "connected" in opened.output, opened.output
        for _ in range(100):
            if connections:
                break
            await asyncio.sleep(0.05)
        assert connections == ["hit"]


async def test_bwrap_sees_its_own_chat_only(data: Path) -> None:
    sandbox = _bwrap_sandbox()
    root = data / "workspaces"
    mine = _workspace(root, "chat-1/job-a", sandbox)
    (_workspace(root, "chat-1/job-b", sandbox) / "out.txt").write_text("same chat, other topic")
    theirs = _workspace(root, "chat-2/job-c", sandbox) / "step1-output.log"
    theirs.write_text("another chat's private output")
    code = f"""
import os
for path in ("../job-b/out.txt", "../../chat-2/job-c/step1-output.log", "{theirs}"):
    try:
        print("read", path, open(path).read())
    except OSError as exc:
        print("cannot read", path, exc.strerror)
os.symlink("{theirs}", "peek")
try:
    print("via symlink", open("peek").read())
except OSError as exc:
    print("cannot read via symlink", exc.strerror)
print("root lists", os.listdir("{root}"))
"""
    result = await _run(sandbox, mine, code)
    assert result.exit_code == 0, result.output
    assert "same chat, other topic" in result.output  # a chat's jobs share its folder
    assert "private output" not in result.output, result.output
    assert "root lists ['chat-1']" in result.output, result.output


# --- never root, in any mode ------------------------------------------------------------------


def _step(chat: int, job: str, code: str, index: int = 0) -> StepInput:
    return StepInput(
        job_id=job,
        step_index=index,
        worker="execution",
        goal="test",
        params={"command": _python(code)},
        workspace=f"chat-{chat}/{job}",
        timeout_seconds=60,
    )


async def _activity(settings: Settings, step: StepInput) -> StepOutput:
    result: StepOutput = await ActivityEnvironment().run(ExecutionActivities(settings).run, step)
    return result


WRITE_PROBE = """
import os
print("uid", os.getuid(), "gid", os.getgid(), "groups", os.getgroups())
for path in {paths!r}:
    try:
        open(path, "a").write("pwned"); print("wrote", path)
    except OSError as exc:
        print("refused", path, exc.strerror)
"""


@pytest.mark.parametrize("mode", ["bwrap", "none"])
async def test_commands_never_run_as_root(data: Path, mode: str) -> None:
    """The command's uid is not 0, and a root-owned 0644 host file given by its path (one in
    the command's own chat folder, where the sandbox does show it; one beside the data folder)
    stays unwritten."""
    if mode == "bwrap":
        bwrap_or_skip()
    settings = make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX=mode)
    assert choose_sandbox(settings).mode == mode
    chat_dir = workspace_dir(settings.workspaces_dir, "chat-5")
    in_chat = chat_dir / "operators-file.txt"
    beside = data / "beside-the-data.txt"
    for path in (in_chat, beside):
        path.write_text("root's")
        path.chmod(0o644)
    paths = [str(in_chat), str(beside)] if mode == "none" else [str(in_chat)]
    out = await _activity(settings, _step(5, "job-root", WRITE_PROBE.format(paths=paths)))
    assert "uid 0 " not in out.output and "gid 0 " not in out.output, out.output
    if os.geteuid() == 0:
        assert "uid 65534 gid 65534 groups []" in out.output, out.output
    assert "wrote" not in out.output and out.output.count("refused") == len(paths), out.output
    assert in_chat.read_text() == beside.read_text() == "root's"
    # Its own folder is its own: it wrote its output there (the log is the worker's).
    assert (chat_dir / "job-root").stat().st_uid == (65534 if os.geteuid() == 0 else os.geteuid())


async def test_plain_command_cannot_read_a_root_process_environ(data: Path) -> None:
    """Plain mode as root: the command runs as nobody, so the environ of a root process holding
    a secret (as `make run` with exported secrets is) is closed to it."""
    if os.geteuid() != 0:
        pytest.skip("the operator is not root here: commands already run as its own user")
    settings = make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX="none")
    with secret_holder() as holder:
        code = f"""
try:
    print("environ", open("/proc/{holder}/environ", "rb").read())
except OSError as exc:
    print("cannot read environ:", exc.strerror)
"""
        out = await _activity(settings, _step(6, "job-environ", code))
    assert "cannot read environ: Permission denied" in out.output, out.output
    assert FAKE_OPENAI_KEY not in out.output


async def test_plain_command_cannot_read_the_database_or_dotenv(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain mode as root: the data folder's database and logs, and a `.env` beside the
    operator, are the operator's alone; the command's own workspace is still its own."""
    if os.geteuid() != 0:
        pytest.skip("the operator is not root here: commands already run as its own user")
    settings = make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX="none")
    database = data / "operator.db"
    database.write_text("rows")
    (data / "logs").mkdir()
    (data / "logs" / "hbo.log").write_text("log lines")
    dotenv = data / ".env"
    dotenv.write_text(f"OPENAI_API_KEY={FAKE_OPENAI_KEY}\n")
    for path in (database, data / "logs" / "hbo.log", dotenv):
        path.chmod(0o644)
    assert close_secret_file(dotenv) and stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    paths = [str(database), str(data / "logs" / "hbo.log"), str(dotenv)]
    code = f"""
import os
for path in {paths!r}:
    try:
        print("read", path, open(path).read())
    except OSError as exc:
        print("cannot read", path, exc.strerror)
try:
    print("lists", os.listdir("{data}"))
except OSError as exc:
    print("cannot list the data folder", exc.strerror)
open("mine.txt", "w").write("ok")
"""
    out = await _activity(settings, _step(7, "job-data", code))
    assert out.output.count("cannot read") == 3 and "rows" not in out.output, out.output
    assert FAKE_OPENAI_KEY not in out.output and "cannot list the data folder" in out.output
    assert (settings.workspaces_dir / "chat-7" / "job-data" / "mine.txt").read_text() == "ok"


def test_handing_over_follows_no_link(data: Path) -> None:
    """A command may plant links in its folder; handing the folder over changes the owner of
    neither a link's target nor a second hard link to one of the operator's files."""
    run_as = run_as_here()
    if run_as is None:
        pytest.skip("the operator is not root here: nothing is handed over")
    root = (data / "workspaces").resolve()
    job = workspace_dir(root, "chat-8/job-a")
    target = data / "operators.txt"
    target.write_text("root's")
    (job / "soft").symlink_to(target)
    os.link(target, job / "hard")
    (job / "upload.txt").write_text("given")
    (job / "upload.txt").chmod(0o600)
    hand_over(root, job, run_as)
    assert target.stat().st_uid == 0 and target.stat().st_nlink == 2
    assert (job / "upload.txt").stat().st_uid == run_as.uid  # a file the operator put there
    assert job.stat().st_uid == job.parent.stat().st_uid == run_as.uid


def test_data_folder_is_searchable_not_readable(data: Path) -> None:
    (data / "operator.db").write_text("rows")
    (data / "operator.db").chmod(0o644)
    (data / "workspaces").mkdir()
    prepare_data_dir(data, data / "workspaces")
    assert stat.S_IMODE(data.stat().st_mode) == 0o711
    assert stat.S_IMODE((data / "workspaces").stat().st_mode) == 0o711
    assert stat.S_IMODE((data / "operator.db").stat().st_mode) == 0o600


# --- which mode: auto by default, fail closed when bwrap is asked for -------------------------


def test_the_default_is_auto(tmp_path: Path) -> None:
    assert make_settings(tmp_path, "127.0.0.1:1").execution_sandbox == "auto"
    assert Settings(_env_file=None).execution_sandbox == "auto"  # type: ignore[call-arg]


def test_auto_picks_bwrap_where_it_can_start(data: Path) -> None:
    bwrap = bwrap_or_skip()
    sandbox = choose_sandbox(make_settings(data, "127.0.0.1:1"))
    assert sandbox.mode == "bwrap" and sandbox.bwrap == bwrap, sandbox
    assert sandbox.run_as == run_as_here()


def test_auto_without_bwrap_runs_plainly_and_says_so_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    settings = make_settings(tmp_path, "127.0.0.1:1")
    with caplog.at_level(logging.WARNING, logger="activities.sandbox"):
        first, second = choose_sandbox(settings), choose_sandbox(settings)
    assert first.mode == "none" and second is first
    warnings = [r for r in caplog.records if "WITHOUT the sandbox" in r.getMessage()]
    assert len(warnings) == 1, caplog.text  # said once, not per command
    assert "not installed" in warnings[0].getMessage()
    assert "apt-get install bubblewrap" in warnings[0].getMessage()


@pytest.fixture
def failing_bwrap() -> Iterator[Path]:
    """A `bwrap` that cannot start a sandbox (outside the data folder, which is closed)."""
    for folder in reachable_folder():
        fake = folder / "bwrap"
        fake.write_text(
            "#!/bin/sh\necho 'bwrap: No permission to create new namespace' >&2\nexit 1\n"
        )
        fake.chmod(0o755)
        yield fake


def test_bwrap_asked_for_and_unable_to_start_refuses(
    data: Path, failing_bwrap: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        data,
        "127.0.0.1:1",
        EXECUTION_SANDBOX="bwrap",
        EXECUTION_SANDBOX_BWRAP=str(failing_bwrap),
    )
    with caplog.at_level(logging.ERROR, logger="activities.sandbox"):
        sandbox = choose_sandbox(settings)
    assert sandbox.mode == "refused" and sandbox.bwrap is None
    assert sandbox.refusal is not None and "No permission to create new namespace" in (
        sandbox.refusal
    )
    assert "commands are refused" in caplog.text


async def test_a_refused_command_runs_nothing(data: Path, failing_bwrap: Path) -> None:
    settings = make_settings(
        data,
        "127.0.0.1:1",
        EXECUTION_SANDBOX="bwrap",
        EXECUTION_SANDBOX_BWRAP=str(failing_bwrap),
    )
    with pytest.raises(ApplicationError) as caught:
        await _activity(settings, _step(9, "job-refused", "open('ran', 'w').write('ran')"))
    assert caught.value.non_retryable and caught.value.type == "SandboxRefused"
    assert "EXECUTION_SANDBOX=bwrap but bubblewrap cannot start here" in caught.value.message
    assert not [folder for folder, _, files in os.walk(data) if "ran" in files]


async def test_plain_mode_is_told_once_per_chat(data: Path) -> None:
    settings = make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX="none")
    first = await _activity(settings, _step(10, "job-1", "print('a')"))
    assert "run without the sandbox (EXECUTION_SANDBOX=none)" in first.summary, first.summary
    again = await _activity(settings, _step(10, "job-1", "print('a')"))  # a retry of that step
    assert "without the sandbox" in again.summary
    sandbox_module._chosen.clear()  # as after a restart
    later = await _activity(settings, _step(10, "job-2", "print('b')"))
    assert "without the sandbox" not in later.summary, later.summary
    other = await _activity(settings, _step(11, "job-3", "print('c')"))
    assert "without the sandbox" in other.summary
    if bwrap_available():
        bwrapped = make_settings(data, "127.0.0.1:1")
        sandbox_module._chosen.clear()
        quiet = await _activity(bwrapped, _step(12, "job-4", "print('d')"))
        assert "without the sandbox" not in quiet.summary and quiet.data["sandbox"] == "bwrap"


def bwrap_available() -> bool:
    try:
        bwrap_or_skip()
    except pytest.skip.Exception:
        return False
    return True


# --- the secret-free worker process ---------------------------------------------------------


def test_isolated_settings_carry_no_secret_and_ignore_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        tmp_path,
        "127.0.0.1:7233",
        OPENAI_API_KEY=FAKE_OPENAI_KEY,
        DATABASE_URL=f"postgresql+asyncpg://u:{FAKE_DB_PASSWORD}@127.0.0.1/x",
        EXECUTION_SANDBOX="bwrap",
    )
    values = settings.without_secrets()
    assert not set(values) & set(SECRET_ENV_NAMES)
    assert not any(secret in repr(values) for secret in SECRETS)
    # The child never reads `.env`, even when one with secrets is in its working directory.
    (tmp_path / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TEST_TOKEN}\nOPENAI_API_KEY={FAKE_OPENAI_KEY}\n"
    )
    monkeypatch.chdir(tmp_path)
    child = isolated_settings(json.dumps(values).encode())
    assert child.telegram_bot_token is None and child.openai_api_key is None
    assert child.execution_sandbox == "bwrap" and child.data_path == settings.data_path


async def test_isolated_worker_refuses_an_environment_with_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    assert await cmd_isolated_worker([EXECUTION_QUEUE], log_to_file=False) == 2


async def test_supervisor_restarts_then_gives_up_and_stops_its_child(tmp_path: Path) -> None:
    stop = asyncio.Event()
    runs = tmp_path / "runs"
    crashing = [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match="code 3"):
        await supervise("crasher", crashing, env={}, stdin_data=b"", stop=stop)
    assert runs.read_text() == "xxx"  # restarted, then given up after three quick exits

    pid_file = tmp_path / "pid"
    sleeper = [
        sys.executable,
        "-c",
        f"import os,time; open({str(pid_file)!r},'w').write(str(os.getpid())); time.sleep(60)",
    ]
    task = asyncio.create_task(supervise("sleeper", sleeper, env={}, stdin_data=b"", stop=stop))
    for _ in range(600):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 30)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


# --- end to end: the real stack, the execution queue in its secret-free child ---------------


@contextlib.asynccontextmanager
async def isolated_stack(
    dev_server: DevServer,
    client: Client,
    botapi: BotApiEmulator,
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox: str,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    ns = await new_namespace(dev_server.target, client, "sandbox")
    # As if exported in the operator's shell: the child must not inherit them.
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("TEMPORAL_API_KEY", FAKE_TEMPORAL_KEY)
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://u:{FAKE_DB_PASSWORD}@h/db")
    async with ScriptedLLM([text("summary")], repeat_last=True) as llm:
        settings = make_settings(
            data,
            dev_server.target,
            TELEGRAM_BASE_URL=botapi.base_url,
            TEMPORAL_NAMESPACE=ns.namespace,
            TEMPORAL_API_KEY="",
            OPENAI_API_KEY=FAKE_OPENAI_KEY,  # this process's reporting step uses it
            OPENAI_BASE_URL=llm.base_url,
            EXECUTION_SANDBOX=sandbox,
            **overrides,
        )
        queues = ("operator", "research", "reporting")
        async with running_stack(settings, ns, queues=queues, bot=False) as stack:
            child = asyncio.create_task(run_isolated(settings, [EXECUTION_QUEUE], stack.stop))
            try:
                for _ in range(1200):  # the child imports the project first: slow when busy
                    if await stack.operator.has_pollers(EXECUTION_QUEUE) or child.done():
                        break
                    await asyncio.sleep(0.1)
                assert not child.done(), child.exception()
                yield stack
            finally:
                stack.stop.set()
                await asyncio.wait_for(child, 60)


async def _exec(stack: Stack, chat: int, command: str) -> tuple[str, str]:
    """Run `command` as `/exec` in `chat`; (job id, its output)."""
    spec = stack.operator.planner.exec_job(command, chat_id=chat)
    handle = await stack.operator.jobs.start(spec)
    result = await asyncio.wait_for(handle.result(), 120)
    assert result.state is JobState.completed, result.last_error
    return spec.job_id, result.outputs[0].output


async def test_plain_mode_commands_find_no_secrets(
    dev_server: DevServer,
    client: Client,
    botapi: BotApiEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with isolated_stack(dev_server, client, botapi, tmp_path, monkeypatch, "none") as stack:
        _, out = await _exec(stack, 7101, _python(ENVIRON_PROBE))
    assert "isolated-worker" in out, out  # the probe did read its parent, the worker
    leaked = [secret for secret in SECRETS if secret in out]
    assert not leaked, f"secrets visible to a command: {leaked}"


async def test_sandboxed_commands_find_no_secrets_and_no_other_chat(
    dev_server: DevServer,
    client: Client,
    botapi: BotApiEmulator,
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bwrap_or_skip()
    async with isolated_stack(dev_server, client, botapi, data, monkeypatch, "bwrap") as stack:
        other_job, _ = await _exec(
            stack, 7201, _python("open('diary.txt', 'w').write('chat 7201 private diary')")
        )
        root = stack.settings.workspaces_dir
        assert (root / "chat-7201" / other_job / "diary.txt").is_file()
        code = f"""
import os
for path in ("../{other_job}/diary.txt", "../../chat-7201/{other_job}/diary.txt",
             "{root}/chat-7201/{other_job}/diary.txt"):
    try:
        print("read", path, open(path).read())
    except OSError as exc:
        print("cannot read", path, exc.strerror)
print("root lists", os.listdir("{root}"))
"""
        _, cross = await _exec(stack, 7202, _python(code))
        _, environ = await _exec(stack, 7202, _python(ENVIRON_PROBE))
    assert "private diary" not in cross and cross.count("cannot read") == 3, cross
    assert "root lists ['chat-7202']" in cross, cross
    assert "isolated-worker" not in environ, environ  # the worker is outside its /proc
    leaked = [secret for secret in SECRETS if secret in environ]
    assert not leaked, f"secrets visible to a sandboxed command: {leaked}"


async def test_bwrap_that_cannot_start_refuses_commands_in_the_chat(
    dev_server: DevServer,
    client: Client,
    botapi: BotApiEmulator,
    data: Path,
    failing_bwrap: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EXECUTION_SANDBOX=bwrap with a bubblewrap that cannot start: the job is refused after
    one attempt, the chat reads why and what to do, and the command did not run."""
    chat = 7301
    async with isolated_stack(
        dev_server,
        client,
        botapi,
        data,
        monkeypatch,
        "bwrap",
        EXECUTION_SANDBOX_BWRAP=str(failing_bwrap),
    ) as stack:
        spec = stack.operator.planner.exec_job(
            _python("open('ran.txt', 'w').write('ran')"), chat_id=chat
        )
        await stack.operator.jobs.start(spec)
        told = await botapi.wait_for(  # the refusal, or (wrongly) the command's result
            lambda m: (
                m.chat_id == chat
                and ("commands are refused" in m.plain_text or "completed" in m.plain_text)
            ),
            timeout=120,
        )
        status, _ = await stack.operator.jobs.status(spec.job_id)
    text = told.plain_text
    assert "EXECUTION_SANDBOX=bwrap but bubblewrap cannot start here" in text, text
    assert "No permission to create new namespace" in text and "apt-get install bubblewrap" in text
    assert "EXECUTION_SANDBOX=none" in text
    assert status.state is JobState.needs_attention and status.attempt == 1, status
    assert not [folder for folder, _, files in os.walk(data) if "ran.txt" in files]


ROOT = Path(__file__).resolve().parents[2]


def _environs(pids: dict[int, str]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = Path(f"/proc/{pid}/environ").read_bytes()
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _tree(root_pid: int) -> dict[int, str]:
    """Every live process under `root_pid` (itself included): pid -> command line."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root_pid}, True
    while grew:
        grown = tree | {pid for pid, parent in parents.items() if parent in tree}
        grew, tree = grown != tree, grown
    lines: dict[int, str] = {}
    for pid in tree:
        with contextlib.suppress(OSError):
            lines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return lines


@pytest.mark.timeout(300)  # `hbo up` starts a dev server, migrates and starts every role
async def test_hbo_up_holds_no_secret_a_command_can_read(tmp_path: Path) -> None:
    """`hbo up` with its secrets exported, as an operator starts it: a command walking up its
    ancestors' /proc finds none, and no process of the tree shows one in /proc/<pid>/environ
    (read here as root, which is allowed more than any command)."""
    chat = ALLOWED_USER
    async with (
        BotApiEmulator(token=TEST_TOKEN) as botapi,
        ScriptedLLM([text("summary")], repeat_last=True) as llm,
    ):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "TEMPORAL_", "OPENAI_", "DATABASE_", "EXECUTION_"))
        }
        env.update(
            HBO_DATA_DIR=str(tmp_path / "data"),
            TEMPORAL_DEV_PORT=str(free_port()),
            TEMPORAL_UI_PORT=str(free_port()),
            TELEGRAM_BOT_TOKEN=TEST_TOKEN,
            TELEGRAM_BASE_URL=botapi.base_url,
            TELEGRAM_ALLOWED_USER_IDS=str(ALLOWED_USER),
            TELEGRAM_POLL_TIMEOUT="1",
            OPENAI_API_KEY=FAKE_OPENAI_KEY,
            OPENAI_BASE_URL=llm.base_url,
        )
        log = (tmp_path / "hbo-up.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker_main", "up", cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            botapi.inject_message(f"/exec {_python(ENVIRON_PROBE)}", user_id=chat, chat_id=chat)
            # A fast job's card is edited into its result: what the person sees, sent or edited.
            await botapi.wait_for_shown(
                lambda m: m.chat_id == chat and "completed" in (m.plain_text or ""), timeout=180
            )
            tree = _tree(proc.pid)
            environs = _environs(tree)
        finally:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 60)
            log.close()
    commands = " | ".join(tree.values())
    assert "isolated-worker" in commands and "start-dev" in commands, commands
    leaked = {
        pid: tree[pid][:60]
        for pid, env in environs.items()
        if FAKE_OPENAI_KEY.encode() in env or TEST_TOKEN.encode() in env
    }
    assert not leaked, f"processes showing a secret in /proc/<pid>/environ: {leaked}"
    [output] = (tmp_path / "data" / "workspaces").glob(f"chat-{chat}/job-*/step1-output.log")
    seen = output.read_text()
    assert "isolated-worker" in seen and " up" in seen, seen  # it did read both ancestors
    assert not [s for s in SECRETS if s in seen], seen
    for _ in range(200):
        alive = [pid for pid in tree if _alive(pid)]
        if not alive:
            break
        await asyncio.sleep(0.1)
    assert not alive, f"processes of hbo up outlived it: {[tree[p][:60] for p in alive]}"


def test_only_the_execution_queue_leaves_the_process() -> None:
    assert split_queues(["operator", "research", "execution", "reporting", "sql"]) == (
        ["operator", "research", "reporting", "sql"],
        ["execution"],
    )
    assert split_queues(["operator"]) == (["operator"], [])

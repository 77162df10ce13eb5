"""A sandboxed command may swap any file or folder of its chat's workspace for a link, at any
moment; the operator (unsandboxed) never follows one. Each test is an attack a command can make
under bubblewrap, and what the operator must not do then:

1. a step log replaced by a link, then a retry: nothing written outside the chat's folder;
2. report.md swapped for a link to another chat's file after it was written: never sent;
3. the research job's folder swapped for a link while research runs: no notes outside;
4. HEARTBEAT.md flipping between a file and a link to a host file: never in a prompt;
5. the model's file tools on names flipping the same way: nothing read or written outside.

1–3 run whole jobs on a deployment of their own with `EXECUTION_SANDBOX=bwrap`, the moments
made certain by a retry, a held send and a held web page. 4 and 5 race a sandboxed command that
swaps a name between a file and a link as fast as it can against many calls of the operator's
own code: a check-then-open reader loses that race within a few hundred calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from temporalio.client import Client

from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.run import HeartbeatActivities
from activities.sandbox import Sandbox
from core.domain.errors import Refusal
from core.domain.heartbeat.config import HeartbeatConfig
from core.domain.heartbeat.models import HeartbeatPlan
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.models import JobSpec, JobState, NotifyPolicy
from core.domain.registry import WorkerRegistry
from core.io.db import Database
from core.io.devserver import DevServer
from core.io.llm.chat_tools import (
    ChatScope,
    ListJobsArgs,
    ReadFileArgs,
    WriteFileArgs,
    read_workspace_file,
    write_workspace_file,
)
from tests.jobs.test_execution_sandbox import _python, bwrap_or_skip
from tests.support.botapi import BotApiEmulator
from tests.support.jobs import fast_retries, wait_status
from tests.support.sandbox import reachable_folder
from tests.support.stack import Stack, make_settings, own_deployment

HOST_TEXT = "host file: root-only content, never to be read or written by the operator\n"
RACE_CALLS = 3000


@dataclass
class Deployment:
    stack: Stack
    botapi: BotApiEmulator
    client: Client
    host: Path  # a folder outside the workspaces, standing for any host path

    @property
    def workspaces(self) -> Path:
        return self.stack.settings.workspaces_dir.resolve()

    async def run(self, spec: JobSpec) -> JobState:
        handle = await self.stack.operator.jobs.start(spec)
        result = await asyncio.wait_for(handle.result(), 120)
        return result.state


@pytest.fixture(scope="module")
async def links(
    dev_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    bwrap_or_skip()
    # The commands' unprivileged user must reach the data folder (pytest's own folders are 0700).
    folders = reachable_folder()
    data = next(folders) / "links-data"
    host = tmp_path_factory.mktemp("host")
    try:
        async with own_deployment(
            dev_server.target,
            client,
            data,
            "links",
            EXECUTION_SANDBOX="bwrap",
            RESEARCH_ALLOW_PRIVATE_NETWORKS=True,
        ) as (stack, botapi, namespace_client):
            yield Deployment(stack=stack, botapi=botapi, client=namespace_client, host=host)
    finally:
        folders.close()  # removes the folder


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait for a positive marker (a file appeared, a call is held), never for time alone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(0.02)


# --- 1. the step log ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["a host file", "another chat's HEARTBEAT.md"])
async def test_a_step_log_swapped_for_a_link_is_never_written_through(
    links: Deployment, target: str
) -> None:
    chat = 3101 if target == "a host file" else 3103
    if target == "a host file":
        victim = links.host / "victim-1.txt"
    else:
        victim = links.workspaces / "chat-3102" / "HEARTBEAT.md"
        victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text(HOST_TEXT)
    # Every attempt plants the link (and exits 1, so the step is retried) and then prints.
    code = f"""
import os, sys
log = "step1-output.log"
print("first line of this attempt", flush=True)
if os.path.lexists(log):
    os.unlink(log)
os.symlink({str(victim)!r}, log)
print("ATTACKER LINE: the heartbeat prompt is now mine", flush=True)
sys.exit(1)
"""
    spec = links.stack.operator.planner.exec_job(
        _python(code), chat_id=chat, notify=NotifyPolicy.silent
    )
    spec = fast_retries(spec, max_attempts=2)
    handle = await links.stack.operator.jobs.start(spec)
    try:
        status = await wait_status(
            links.client, spec.job_id, JobState.needs_attention, timeout=90, attempt=2
        )
    finally:
        await handle.cancel()
    assert "exited with code 1" in status.last_error, status.last_error
    assert victim.read_text() == HOST_TEXT  # neither attempt wrote through the link
    log = links.workspaces / f"chat-{chat}" / spec.job_id / "step1-output.log"
    assert log.is_symlink()  # the second attempt planted it again, after the worker's open


# --- 2. the report sent as a document -------------------------------------------------------


async def test_a_report_swapped_for_a_link_after_it_was_written_is_never_sent(
    links: Deployment,
) -> None:
    chat, other = 3201, 3202
    victim = links.workspaces / f"chat-{other}" / "private.txt"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("chat 3202's private notes: " + HOST_TEXT)
    long_output = "print('\\n'.join(f'line {i} ' + 'x' * 60 for i in range(120)))"
    job = links.stack.operator.planner.exec_job(
        _python(long_output), chat_id=chat, notify=NotifyPolicy.done_only
    )
    report = links.workspaces / f"chat-{chat}" / job.job_id / "report.md"
    swap = f"""
import os
report = "../{job.job_id}/report.md"
os.unlink(report)
os.symlink({str(victim)!r}, report)
print("swapped")
"""
    swapper = links.stack.operator.planner.exec_job(
        _python(swap), chat_id=chat, notify=NotifyPolicy.silent, report=False
    )
    botapi = links.botapi
    botapi.hold_sends([chat])
    try:
        handle = await links.stack.operator.jobs.start(job)
        # The result (with report.md to attach) is being sent and held: report.md is written.
        await until(lambda: botapi.held >= 1, "the job's result to be sent")
        assert report.is_file() and not report.is_symlink()
        assert await links.run(swapper) is JobState.completed
        assert report.is_symlink()
    finally:
        # The held send fails (502): the notify activity's retry reads the document again.
        botapi.release_held(deliver=False)
    assert (await asyncio.wait_for(handle.result(), 120)).state is JobState.completed
    sent = [m for m in botapi.sent if m.chat_id == chat]
    assert any(job.job_id in (m.plain_text or "") for m in sent), sent  # the result arrived
    documents = [m.document_content for m in sent if m.method == "sendDocument"]
    assert not [d for d in documents if d and b"chat 3202's private notes" in d], documents


# --- 3. research's folder -------------------------------------------------------------------


@dataclass
class HeldPage:
    """A page whose answer waits until the test lets it go."""

    requested: asyncio.Event
    release: asyncio.Event
    url: str = ""


@contextlib.asynccontextmanager
async def held_page() -> AsyncIterator[HeldPage]:
    page = HeldPage(asyncio.Event(), asyncio.Event())

    async def answer(request: web.Request) -> web.Response:
        page.requested.set()
        await page.release.wait()
        return web.Response(text="<title>Status</title><p>all fine</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/status", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    page.url = f"http://127.0.0.1:{runner.addresses[0][1]}/status"
    try:
        yield page
    finally:
        page.release.set()
        await runner.cleanup()


async def test_research_whose_folder_is_swapped_for_a_link_writes_nothing_outside(
    links: Deployment,
) -> None:
    chat = 3301
    outside = links.host / "research-out"
    outside.mkdir()
    async with held_page() as page:
        job = links.stack.operator.planner.research_job(
            f"summarize {page.url}", chat_id=chat, notify=NotifyPolicy.silent, report=False
        )
        swap = f"""
import os
os.rename("../{job.job_id}", "../{job.job_id}-moved")
os.symlink({str(outside)!r}, "../{job.job_id}")
print("swapped")
"""
        swapper = links.stack.operator.planner.exec_job(
            _python(swap), chat_id=chat, notify=NotifyPolicy.silent, report=False
        )
        handle = await links.stack.operator.jobs.start(job)
        await asyncio.wait_for(page.requested.wait(), 60)  # research is under way
        assert await links.run(swapper) is JobState.completed
        assert (links.workspaces / f"chat-{chat}" / job.job_id).is_symlink()
        page.release.set()
        await asyncio.wait_for(handle.result(), 120)
    assert sorted(p.name for p in outside.iterdir()) == []


# --- 4 and 5: a name flipping between a file and a link ---------------------------------------

FLIPPER = """
import os, sys
names = sys.argv[1:]
for name in names:
    target = os.environ["TARGET_" + name.replace(".", "_")]
    with open(".real-" + name, "w") as out:
        out.write("# Heartbeat\\n\\n- a checklist item of this chat\\n")
    os.symlink(target, ".link-" + name)
    os.link(".real-" + name, name)
print("ready", flush=True)
flips = 0
while not os.path.exists("stop"):
    for name in names:
        # A hardlink of the prepared file or of the prepared link, renamed over the name:
        # the name is always there, a regular file one moment and a link the next.
        os.link(".link-" + name, ".next-" + name, follow_symlinks=False)
        os.rename(".next-" + name, name)
        os.link(".real-" + name, ".next-" + name)
        os.rename(".next-" + name, name)
    flips += 1
print("flips", flips, flush=True)
"""


@contextlib.asynccontextmanager
async def flipping(folder: Path, targets: dict[str, Path]) -> AsyncIterator[None]:
    """A command under bubblewrap, its chat's folder `folder` writable, swapping each name of
    `targets` between a file of its own and a link to the target, until told to stop."""
    sandbox = Sandbox(bwrap_or_skip())
    os.makedirs(folder, exist_ok=True)  # pytest's tmp_path: a real path already
    argv = sandbox.wrap(["python3", "-c", FLIPPER, *targets], chat_dir=folder, cwd=folder)
    env = {"PATH": "/usr/bin:/bin"}
    env.update({"TARGET_" + name.replace(".", "_"): str(t) for name, t in targets.items()})
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env
    )
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert first.strip() == b"ready", first + await proc.stdout.read()
        yield
    finally:
        (folder / "stop").touch()
        rest = await asyncio.wait_for(proc.stdout.read(), 60)
        await proc.wait()
    assert proc.returncode == 0 and b"flips" in rest, rest


async def race(calls: int, call: Callable[[], Awaitable[None]]) -> None:
    for _ in range(calls):
        await call()


def heartbeat_activities(tmp_path: Path, workspaces_data: Path) -> HeartbeatActivities:
    settings = make_settings(workspaces_data, "127.0.0.1:1")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hb.db'}")
    return HeartbeatActivities(HeartbeatDeps(settings, None, db, WorkerRegistry([]), None))  # type: ignore[arg-type]


async def test_a_heartbeat_checklist_flipping_to_a_link_never_reaches_the_prompt(
    tmp_path: Path,
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.txt").write_text("- " + HOST_TEXT)
    activities = heartbeat_activities(tmp_path, tmp_path / "data")
    folder = activities.deps.settings.workspaces_dir / "chat-3401"
    plan = HeartbeatPlan(target=HeartbeatTarget(chat_id=3401), config=HeartbeatConfig())
    seen: dict[str, int] = {"checklist": 0, "refused": 0, "leaked": 0}

    async def one() -> None:
        resolution = await activities.resolve_prompt(plan)
        if "root-only content" in resolution.text:
            seen["leaked"] += 1
        elif "a checklist item of this chat" in resolution.text:
            seen["checklist"] += 1
        else:
            seen["refused"] += 1

    async with flipping(folder, {"HEARTBEAT.md": host / "secret.txt"}):
        await race(RACE_CALLS, one)
    assert seen["leaked"] == 0, seen
    assert seen["checklist"] and seen["refused"], seen  # the race was run both ways
    assert (host / "secret.txt").read_text() == "- " + HOST_TEXT
    # A link that points nowhere yet is not created through either.
    (folder / "HEARTBEAT.md").unlink()
    (folder / "HEARTBEAT.md").symlink_to(host / "created.md")
    resolution = await activities.resolve_prompt(plan)
    assert "unusable" in " ".join(resolution.notes) and not (host / "created.md").exists()


class ChatOnly(ChatScope):
    """One chat's folder for the model's file tools, and no jobs."""

    def __init__(self, root: Path, chat_id: int) -> None:
        super().__init__(chat_id, None, root, f"chat-{chat_id}")  # type: ignore[arg-type]

    async def show_jobs(self, args: ListJobsArgs) -> str:
        raise AssertionError("not called")

    async def show_job(self, job_id: str) -> str:
        raise AssertionError("not called")


async def test_the_models_file_tools_never_follow_a_link_flipped_in(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.txt").write_text(HOST_TEXT)
    (host / "config.txt").write_text(HOST_TEXT)
    root = tmp_path / "workspaces"
    scope = ChatOnly(root, 3501)
    read = ReadFileArgs(path="notes.md")
    write = WriteFileArgs(path="out.md", content="the model's words")
    seen: dict[str, int] = {"read": 0, "refused": 0, "leaked": 0, "crashed": 0}

    async def one() -> None:
        try:
            text = (await read_workspace_file(scope, read)).text
        except Refusal:
            seen["refused"] += 1
        except OSError:  # not a refusal the model is told: counted, and checked last
            seen["crashed"] += 1
        else:
            seen["leaked" if "root-only content" in text else "read"] += 1
        try:
            await write_workspace_file(scope, write)
        except Refusal:
            pass
        except OSError:
            seen["crashed"] += 1

    targets = {"notes.md": host / "secret.txt", "out.md": host / "config.txt"}
    async with flipping(root / "chat-3501", targets):
        await race(RACE_CALLS, one)
    assert seen["leaked"] == 0, seen
    assert seen["read"] and seen["refused"], seen
    assert (host / "config.txt").read_text() == HOST_TEXT  # never written through
    assert (host / "secret.txt").read_text() == HOST_TEXT
    assert seen["crashed"] == 0, seen  # a swap mid-call is a refusal, not an error

"""The heartbeat agent's tools reach its own chat only: another chat's job — its status, its
workspace, its files — and another chat's folder are out of reach whatever the model asks,
against the real dev server. The same calls in the job's own chat work (so the refusals are the
scope's, not a broken setup)."""

from __future__ import annotations

import json

from activities.heartbeat.agent import HeartbeatScope, agent_toolset
from activities.heartbeat.deps import HeartbeatDeps
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.ids import workspace_name
from core.domain.jobs.models import JobState
from core.io.llm.tools import Toolset
from tests.heartbeat.harness import Harness
from tests.support.visibility import wait_visible


def deps_of(hb: Harness) -> HeartbeatDeps:
    runtime, no_sender = hb.runtime, None  # the tools never send
    return HeartbeatDeps(hb.settings, hb.client, runtime.db, runtime.registry, no_sender)  # type: ignore[arg-type]


def scope_for(hb: Harness, chat: int) -> tuple[Toolset[HeartbeatScope], HeartbeatScope]:
    deps = deps_of(hb)
    target = HeartbeatTarget(chat_id=chat)
    return agent_toolset(deps, optional=True), HeartbeatScope(deps, target, target.workspace_folder)


async def test_a_heartbeat_cannot_reach_another_chats_jobs_or_files(hb: Harness) -> None:
    owner, other = hb.new_chat(), hb.new_chat()
    spec = await hb.start_job(owner, "echo owner-only")
    await hb.wait_job(spec.job_id, JobState.completed)
    job_dir = hb.settings.workspaces_dir / workspace_name(owner, spec.job_id)
    (job_dir / "secret.txt").write_text("owner's secret")
    job = spec.job_id

    tools, scope = scope_for(hb, other)
    for name, args in [
        ("get_job", {"job_id": job}),
        ("list_workspace_files", {"job_id": job}),
        ("read_workspace_file", {"job_id": job, "path": "secret.txt"}),
        ("write_workspace_file", {"job_id": job, "path": "planted.txt", "content": "x"}),
    ]:
        result = await tools.call(scope, name, json.dumps(args))
        assert not result.ok and f"no job {job} in this chat" in result.text, (name, result)
    for path in (f"../{workspace_name(owner, job)}/secret.txt", str(job_dir / "secret.txt")):
        result = await tools.call(scope, "read_workspace_file", json.dumps({"path": path}))
        assert not result.ok and "owner's secret" not in result.text, result
    listed = await tools.call(scope, "list_jobs", json.dumps({}))
    assert listed.ok and job not in listed.text
    assert not (job_dir / "planted.txt").exists()
    assert scope.jobs_started == [] and scope.posts == []

    # The same calls from the owner's chat reach the job.
    tools, own = scope_for(hb, owner)
    status = await tools.call(own, "get_job", json.dumps({"job_id": job}))
    assert status.ok and job in status.text and "UNTRUSTED-DATA" in status.text
    secret = await tools.call(
        own, "read_workspace_file", json.dumps({"job_id": job, "path": "secret.txt"})
    )
    assert secret.ok and "owner's secret" in secret.text
    await wait_visible(hb.client, f"WorkflowId = '{job}' AND ReportChatId = {owner}")
    assert job in (await tools.call(own, "list_jobs", json.dumps({}))).text

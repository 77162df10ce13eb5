"""The heartbeat agent against a scripted OpenAI-compatible server: what it is told, what the
chat sees (never the prompt or the ack token), dispatch modes, repetition, budget, follow-ups."""

from __future__ import annotations

from typing import Any

from core.domain.heartbeat.models import HeartbeatRunSummary
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.models import JobState
from tests.heartbeat.harness import Harness
from tests.support.jobs import wait_closed
from tests.support.llm_server import ScriptedLLM, ScriptedReply, text, tool_call
from tests.support.visibility import wait_visible

PROMPT = "Check whether the nightly backup job has finished; report problems only."


async def inline_target(hb: Harness, **overrides: Any) -> tuple[int, HeartbeatTarget]:
    chat = hb.new_chat()
    target = await hb.target(chat, prompt=PROMPT, workspace_file_path="", **overrides)
    return chat, target


def texts(hb: Harness, chat: int) -> list[str]:
    return [m.plain_text or "" for m in hb.sent_to(chat)]


async def test_the_prompt_goes_to_the_llm_never_to_the_chat(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb)
    llm.push(text("**HEARTBEAT_OK**"))
    summary = await hb.run(target)
    assert summary.outcome == "suppressed", summary
    (request,) = llm.requests
    system, user = request["messages"][0], request["messages"][1]
    assert system["role"] == "system" and "Run number: 1" in system["content"]
    assert "Current time:" in system["content"] and "(UTC)" in system["content"]
    assert user == {"role": "user", "content": PROMPT}
    assert texts(hb, chat) == []  # suppressed: nothing at all reached the chat

    llm.push(text(f"HEARTBEAT_OK — the backup is 3 hours late.\n\n{PROMPT}"))
    summary = await hb.run(target)
    assert summary.outcome == "posted", summary
    (shown,) = texts(hb, chat)
    assert "the backup is 3 hours late" in shown
    assert "HEARTBEAT_OK" not in shown and PROMPT not in shown
    # The second run saw the first in its metadata.
    assert "Run number: 2" in llm.requests[1]["messages"][0]["content"]
    assert "Recent runs" in llm.requests[1]["messages"][0]["content"]


async def test_a_custom_ack_token_with_punctuation(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb, ack_token="ALL_QUIET")
    llm.push(text("  ALL_QUIET.  "))
    assert (await hb.run(target)).outcome == "suppressed"
    assert "exactly ALL_QUIET" in llm.requests[0]["messages"][0]["content"]
    assert texts(hb, chat) == []


async def test_optional_dispatch_posts_only_what_the_agent_chose(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chat, target = await inline_target(hb, dispatch_mode="optional")
    llm.push(
        tool_call("post_heartbeat_to_channel", {"message": "The backup job failed at 02:10."}),
        text("Posted the alert."),
    )
    summary = await hb.run(target)
    assert summary.outcome == "posted", summary
    tools = [t["function"]["name"] for t in llm.requests[0]["tools"]]
    assert "post_heartbeat_to_channel" in tools
    assert [t for t in texts(hb, chat) if "backup" in t] == [
        "🫀 Heartbeat\nThe backup job failed at 02:10."
    ]
    llm.push(text("Everything looks fine; nothing worth posting."))
    quiet = await hb.run(target)
    assert quiet.outcome == "silent" and "chose not to post" in quiet.reason
    assert len(texts(hb, chat)) == 1


async def test_always_dispatch_offers_no_post_tool(hb: Harness, llm: ScriptedLLM) -> None:
    _, target = await inline_target(hb)
    llm.push(text("HEARTBEAT_OK"))
    await hb.run(target)
    tools = [t["function"]["name"] for t in llm.requests[0]["tools"]]
    assert "post_heartbeat_to_channel" not in tools and "start_job" in tools


async def test_silent_mode_stores_without_posting(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb, dispatch_results=False)
    llm.push(text("The backup finished; 4.2 GB."))
    summary = await hb.run(target)
    assert summary.outcome == "silent" and "dispatch_results is off" in summary.reason
    assert texts(hb, chat) == []
    (run,) = await hb.store.recent_runs(target)
    assert run.result == "The backup finished; 4.2 GB." and run.llm_calls == 1


async def test_the_fourth_near_identical_run_gets_the_repetition_alert(
    hb: Harness, llm: ScriptedLLM
) -> None:
    _, target = await inline_target(hb)
    results = ["Backup done, 4.2 GB.", "Backup done, 4.3 GB.", "Backup done, 4.2 GB!", "New."]
    llm.push(*(text(r) for r in results))
    for _ in results:
        await hb.run(target)
    systems = [r["messages"][0]["content"] for r in llm.requests]
    assert ["REPETITION ALERT" in s for s in systems] == [False, False, False, True]
    assert all(r in systems[3] for r in results[:3])
    runs = await hb.store.recent_runs(target, limit=1)
    assert runs[0].repetition_alert


async def test_the_checklist_is_created_read_and_followed(hb: Harness, llm: ScriptedLLM) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, prompt="inline fallback")
    created = await hb.run(target)
    assert created.outcome == "silent" and "created HEARTBEAT.md" in created.reason
    assert llm.requests == []  # the run that creates the file makes no LLM call
    path = hb.settings.workspaces_dir / target.workspace_folder / "HEARTBEAT.md"
    llm.push(text("HEARTBEAT_OK"), text("HEARTBEAT_OK"), text("HEARTBEAT_OK"))
    await hb.run(target)  # no items in the template: the inline prompt is next
    assert llm.requests[-1]["messages"][1]["content"] == "inline fallback"
    path.write_text(path.read_text() + "\n- Check the backup size\n")
    await hb.run(target)  # items now: the file wins, re-read on this run
    assert "- Check the backup size" in llm.requests[-1]["messages"][1]["content"]
    await hb.store.put_template("nightly", "Template prompt", chat_id=chat)
    await hb.set(target, prompt_template_id="nightly")
    path.write_text("# Heartbeat\n\n- \n")
    await hb.run(target)  # no items again: the template comes before the inline prompt
    assert llm.requests[-1]["messages"][1]["content"] == "Template prompt"
    assert texts(hb, chat) == []


async def test_the_default_prompt_is_the_last_resort(hb: Harness, llm: ScriptedLLM) -> None:
    _, target = await inline_target(hb)
    await hb.set(target, prompt=None)
    hb.settings.heartbeat_default_prompt = "Fleet-wide default prompt"
    try:
        llm.push(text("HEARTBEAT_OK"))
        summary = await hb.run(target)
    finally:
        hb.settings.heartbeat_default_prompt = ""
    assert summary.outcome == "suppressed"
    assert llm.requests[0]["messages"][1]["content"] == "Fleet-wide default prompt"


async def test_trigger_response_starts_a_follow_up_job(hb: Harness, llm: ScriptedLLM) -> None:
    _chat, target = await inline_target(hb, trigger_response=True)
    llm.push(text("The backup is 3 hours late."))
    summary = await hb.run(target)
    assert summary.outcome == "posted" and "follow-up job job-" in summary.reason
    job_id = summary.reason.split("follow-up job ")[1].split()[0].rstrip(";")
    desc = await hb.client.get_workflow_handle(job_id).describe()
    memo = await desc.memo()
    assert "The backup is 3 hours late." in memo["goal"]
    await hb.wait_job(job_id, JobState.completed, JobState.failed, JobState.needs_attention)
    if await hb.job_state(job_id) is JobState.completed:
        # A completed job asks the same scripted model for its summary after its result: wait
        # until the job has ended, so that call cannot take the answer scripted for the run.
        await wait_closed(hb.client, job_id)
    llm.push(text("HEARTBEAT_OK"))
    nothing = await hb.run(target)
    assert "follow-up" not in nothing.reason  # no result, no follow-up


async def test_the_budget_stops_a_looping_agent(hb: Harness, llm: ScriptedLLM) -> None:
    _chat, target = await inline_target(hb, max_llm_calls=3)
    llm.script = [tool_call("list_jobs", {})]
    llm.repeat_last = True
    summary = await hb.run(target)
    assert summary.outcome == "suppressed", summary
    assert "agent stopped: budget: 3 model calls" in summary.reason
    assert len(llm.requests) == 3
    (run,) = await hb.store.recent_runs(target)
    assert run.llm_calls == 3 and run.tool_calls == 3 and run.tokens == 6


async def test_the_agent_uses_the_operators_tools_in_its_own_chat(
    hb: Harness, llm: ScriptedLLM
) -> None:
    chat, target = await inline_target(hb)
    llm.push(
        tool_call("start_job", {"worker": "execution", "input": "echo from-the-heartbeat"}),
        tool_call("write_workspace_file", {"path": "notes/seen.md", "content": "checked"}),
        tool_call("read_workspace_file", {"path": "../../etc/passwd"}),
        text("Started a check; I'll report when it ends."),
    )
    summary = await hb.run(target)
    assert summary.outcome == "posted" and "started job-" in summary.reason
    assert "leaves the workspace" in llm.tool_results(3)[-1]
    notes = hb.settings.workspaces_dir / target.workspace_folder / "notes" / "seen.md"
    assert notes.read_text() == "checked"
    job_id = summary.reason.split("started ")[1].split(";")[0]
    await wait_visible(hb.client, f"WorkflowId = '{job_id}' AND ReportChatId = {chat}")


async def test_without_an_llm_the_checklist_is_not_executed_and_said_once(hb: Harness) -> None:
    chat, target = await inline_target(hb)
    first = await hb.run(target)
    assert first.outcome == "posted" and "no LLM" in first.reason
    second = await hb.run(target)
    assert second.outcome == "silent" and "no LLM" in second.reason
    notices = [t for t in texts(hb, chat) if "no LLM is configured" in t]
    assert len(notices) == 1


def summary_of(result: HeartbeatRunSummary) -> str:
    return f"{result.outcome}: {result.reason}"


async def test_an_llm_error_fails_the_run_and_is_recorded(hb: Harness, llm: ScriptedLLM) -> None:
    chat, target = await inline_target(hb)
    llm.push(ScriptedReply(status=400))
    summary = await hb.run(target)
    assert summary.outcome == "failed" and "LLM error 400" in summary_of(summary)
    (run,) = await hb.store.recent_runs(target)
    assert run.outcome == "failed"
    assert texts(hb, chat) == []

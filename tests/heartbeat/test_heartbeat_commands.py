"""Operations: /heartbeat in the chat and `hbo heartbeat …` on the CLI (same admin code), and
configured group targets (private chats: test_heartbeat_provisioning)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.types import Incoming
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.render import html_to_plain
from tests.heartbeat.harness import Harness
from tests.support.llm_server import ScriptedLLM, text
from tests.support.stack import ALLOWED_USER

ROOT = Path(__file__).resolve().parents[2]


async def reply(hb: Harness, chat: int, command: str, **kw: object) -> str:
    replies = await hb.say(chat, command, **kw)  # type: ignore[arg-type]
    return "\n".join(html_to_plain(r.text) for r in replies)


async def interval_of(hb: Harness, target: HeartbeatTarget) -> timedelta:
    desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
    return desc.schedule.spec.intervals[0].every


async def test_set_validates_and_mirrors_into_the_schedule(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    answer = await reply(hb, chat, "/heartbeat set interval_minutes 30")
    assert "interval_minutes = 30" in answer and "(was 15)" in answer
    assert await interval_of(hb, target) == timedelta(minutes=30)

    for bad, why in (
        ("/heartbeat set quiet_start 23:00", "both ends"),
        ("/heartbeat set quiet_hours 23:61-07:00", "HH:MM"),
        ("/heartbeat set timezone Mars/Olympus", "unknown timezone"),
        ("/heartbeat set interval_minutes 0", "outside"),
        ("/heartbeat set workflow_id nope", "no workflow 'nope'"),
        ("/heartbeat set colour blue", "unknown setting"),
    ):
        answer = await reply(hb, chat, bad)
        assert why in answer and "Nothing changed" in answer, (bad, answer)
    row = await hb.store.get(target)
    assert row is not None and row.overrides == '{"interval_minutes":30}'

    answer = await reply(hb, chat, "/heartbeat set quiet_hours 23:00-07:00")
    assert "quiet_hours = 23:00–07:00" in answer
    await reply(hb, chat, "/heartbeat set timezone Europe/Berlin")
    view = await reply(hb, chat, "/heartbeat")
    assert "quiet hours: 23:00–07:00 Europe/Berlin (no runs)" in view
    answer = await reply(hb, chat, "/heartbeat unset interval")
    assert "follows the global default" in answer
    assert await interval_of(hb, target) == timedelta(minutes=15)


async def test_on_off_and_fire(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    handle = hb.client.get_schedule_handle(target.schedule_id)
    assert "Heartbeat on" in await reply(hb, chat, "/heartbeat on")
    assert not (await handle.describe()).schedule.state.paused
    assert "Heartbeat off" in await reply(hb, chat, "/heartbeat off")
    assert (await handle.describe()).schedule.state.paused
    assert "fired" in await reply(hb, chat, "/heartbeat fire")
    for _ in range(100):
        if await hb.store.recent_runs(target):
            break
        await asyncio.sleep(0.1)
    runs = await hb.store.recent_runs(target)
    # The person just wrote (busy), but asked for this run: it passes the busy gate.
    assert runs and runs[0].outcome == "silent" and "fired by hand" in runs[0].reason


async def test_infer_proposes_and_the_person_confirms(hb: Harness, llm: ScriptedLLM) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    llm.push(text("- Check that the nightly backup finished\n- Warn if disk usage is above 80%"))
    replies = await hb.say(chat, "/heartbeat infer")
    assert "Proposed heartbeat checklist" in replies[0].text
    assert [b.data for b in replies[0].buttons] == ["hb:accept"]
    path = hb.settings.workspaces_dir / target.workspace_folder / "HEARTBEAT.md"
    assert not path.exists()  # nothing changes until the person confirms
    pressed = await hb.operator.handle(
        Incoming(user_id=ALLOWED_USER, chat_id=chat, callback_data="hb:accept")
    )
    assert "Saved as the checklist" in pressed[0].text
    assert "- Warn if disk usage is above 80%" in path.read_text()
    assert "Nothing to accept" in await reply(hb, chat, "/heartbeat infer accept")


async def test_infer_without_an_llm_says_what_to_do(hb: Harness) -> None:
    chat = hb.new_chat()
    await hb.target(chat)
    assert "needs an LLM" in await reply(hb, chat, "/heartbeat infer")


async def test_a_group_topic_heartbeat_by_command(hb: Harness) -> None:
    group = hb.new_chat(group=True)
    hb.settings.telegram_allowed_chat_ids.append(group)
    try:
        replies = await hb.operator.handle(
            Incoming(
                user_id=ALLOWED_USER,
                chat_id=group,
                chat_type="supergroup",
                topic_id=7,
                text="/heartbeat on",
            )
        )
        assert "Heartbeat on" in replies[0].text
        target = HeartbeatTarget(chat_id=group, topic_id=7)
        assert target.schedule_id == f"heartbeat-{group}-7"
        row = await hb.store.get(target)
        assert row is not None and row.source == "command"
        assert await hb.store.get(HeartbeatTarget(chat_id=group)) is None  # only the topic
    finally:
        hb.settings.telegram_allowed_chat_ids.remove(group)
        await hb.admin.toggle(HeartbeatTarget(chat_id=group, topic_id=7), False, None)


async def test_configured_group_targets_are_synced(hb: Harness) -> None:
    group = hb.new_chat(group=True)
    hb.settings.heartbeat_group_targets = [f"{group}:42"]
    try:
        changed = await hb.admin.schedules.sync_all()
    finally:
        hb.settings.heartbeat_group_targets = []
    target = HeartbeatTarget(chat_id=group, topic_id=42)
    assert f"created {target.schedule_id} (config)" in changed
    desc = await hb.client.get_schedule_handle(target.schedule_id).describe()
    assert desc.id == target.schedule_id
    await hb.admin.toggle(target, False, None)
    assert await hb.admin.schedules.sync_all() == []  # idempotent


def hbo(hb: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": hb.settings.temporal_target,
        "TEMPORAL_NAMESPACE": hb.client.namespace,
        "HBO_DATA_DIR": str(hb.data_dir),
        "DATABASE_URL": hb.settings.database_url,
        "TELEGRAM_BOT_TOKEN": "",
        "OPENAI_API_KEY": "",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "worker_main.py"), "heartbeat", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_cli_uses_the_same_operations(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    shown = hbo(hb, "show", str(chat))
    assert shown.returncode == 0, shown.stderr
    assert target.schedule_id in shown.stdout and "<b>" not in shown.stdout
    bad = hbo(hb, "set", str(chat), "quiet_start", "25:00")
    assert bad.returncode == 1 and "HH:MM" in bad.stdout
    good = hbo(hb, "set", str(chat), "prompt", "Check", "the", "backups")
    assert good.returncode == 0 and "prompt = Check the backups" in good.stdout
    row = await hb.store.get(target)
    assert row is not None and "Check the backups" in row.overrides
    listed = hbo(hb, "list")
    assert target.schedule_id in listed.stdout

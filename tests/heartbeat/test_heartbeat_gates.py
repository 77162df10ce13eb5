"""The gates before a run does anything: quiet hours (workflow time), a busy chat, and group
targets the bot can no longer reach (getChat, cached for an hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.heartbeat.harness import WATCHING, Harness
from tests.support.llm_server import ScriptedLLM, text


def window_around_now(zone: str) -> tuple[str, str]:
    """A quiet window, in `zone`, that contains the current wall-clock time."""
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    start = (local - timedelta(hours=1)).strftime("%H:%M")
    end = (local + timedelta(hours=1)).strftime("%H:%M")
    return start, end


async def test_quiet_hours_skip_the_run(hb: Harness, llm: ScriptedLLM) -> None:
    chat = hb.new_chat()
    start, end = window_around_now("Asia/Kolkata")
    target = await hb.target(
        chat,
        prompt="p",
        workspace_file_path="",
        quiet_start=start,
        quiet_end=end,
        timezone="Asia/Kolkata",
    )
    summary = await hb.run(target)
    assert summary.outcome == "skipped" and "quiet hours" in summary.reason
    assert "(Asia/Kolkata)" in summary.reason
    # The same window read in UTC (5.5 h behind Kolkata) does not contain now: the run happens.
    await hb.set(target, timezone="UTC")
    llm.push(text("HEARTBEAT_OK"))
    assert (await hb.run(target)).outcome == "suppressed"
    assert hb.sent_to(chat) == []


async def test_quiet_hours_with_a_slower_cadence(hb: Harness, llm: ScriptedLLM) -> None:
    chat = hb.new_chat()
    start, end = window_around_now("UTC")
    target = await hb.target(
        chat, prompt="p", workspace_file_path="", quiet_start=start, quiet_end=end
    )
    await hb.set(target, quiet_interval_minutes=60)
    llm.push(text("HEARTBEAT_OK"))
    first = await hb.run(target)
    assert first.outcome == "suppressed" and "slow cadence run" in first.reason
    second = await hb.run(target)
    assert second.outcome == "skipped" and "one run per 60 min" in second.reason
    assert len(llm.requests) == 1


async def test_a_busy_chat_is_skipped_until_the_cooldown_has_passed(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat, cooldown_minutes=5, **WATCHING)
    await hb.runtime.chats.touch(chat, chat_type="private", user_id=chat)
    busy = await hb.run(target)
    assert busy.outcome == "skipped" and "busy: the person wrote" in busy.reason
    hb.clock.advance(minutes=5)  # idle for exactly the cooldown: no longer busy
    past = await hb.run(target)  # past the gate: it says once that no LLM is configured
    assert past.outcome == "posted" and "no LLM is configured" in past.reason


async def test_an_unreachable_group_is_skipped_and_checked_again_after_an_hour(
    hb: Harness,
) -> None:
    group = hb.new_chat(group=True)
    target = await hb.target(group, **WATCHING)
    hb.emulator.set_unreachable(group, status=403)

    def get_chat_calls() -> int:
        return sum(1 for c in hb.emulator.calls_to("getChat") if c.params.get("chat_id") == group)

    first = await hb.run(target)
    assert first.outcome == "skipped" and "unreachable" in first.reason and "kicked" in first.reason
    assert get_chat_calls() == 1
    hb.emulator.set_reachable(group)
    hb.clock.advance(seconds=3599)
    cached = await hb.run(target)
    assert cached.outcome == "skipped" and "within the hour" in cached.reason
    assert get_chat_calls() == 1  # the cached answer, no new getChat
    hb.clock.advance(seconds=1)  # exactly 3600 s: checked again
    assert (await hb.run(target)).outcome == "posted"  # once: no LLM is configured
    assert get_chat_calls() == 2
    hb.clock.advance(seconds=600)
    assert (await hb.run(target)).outcome == "silent"
    assert get_chat_calls() == 2  # a success is cached too
    assert len(hb.sent_to(group)) == 1


async def test_private_chats_are_not_validated(hb: Harness) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    await hb.run(target)
    assert not [c for c in hb.emulator.calls_to("getChat") if c.params.get("chat_id") == chat]

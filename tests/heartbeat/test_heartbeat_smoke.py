"""An idle heartbeat: nothing changed, nothing to follow — no LLM call, no message."""

from __future__ import annotations

from tests.heartbeat.harness import Harness
from tests.support.llm_server import ScriptedLLM


async def test_an_idle_heartbeat_is_silent_and_free(hb: Harness, llm: ScriptedLLM) -> None:
    chat = hb.new_chat()
    target = await hb.target(chat)
    summary = await hb.run(target)
    assert summary.outcome == "silent", summary
    assert summary.run_number == 1
    # The first run created HEARTBEAT.md from the template; it has no items.
    checklist = hb.settings.workspaces_dir / target.workspace_folder / "HEARTBEAT.md"
    assert checklist.is_file()
    second = await hb.run(target)
    assert second.outcome == "silent" and "HEARTBEAT.md has no items" in second.reason
    assert llm.requests == []
    assert hb.sent_to(chat) == []
    runs = await hb.store.recent_runs(target)
    assert [r.outcome for r in runs] == ["silent", "silent"]

"""What a person sees of heartbeats: one target's settings with its run history (`/heartbeat`,
`hbo heartbeat show`) and the owner's list of every target.

On/off comes from the target's Temporal Schedule itself (and the row follows it), so
`temporal schedule toggle` and `/heartbeat` always agree.
"""

from __future__ import annotations

from core.domain.heartbeat.config import HeartbeatConfig, format_window
from core.domain.heartbeat.prompt import checklist_items
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.render import esc, truncate_utf16
from core.io.heartbeat.schedules import HeartbeatSchedules
from core.io.heartbeat.store import overrides_of, target_of
from core.io.settings import Settings
from core.io.tables import HeartbeatTargetRow
from core.io.workspace import FileMissing, Workspace, WorkspaceError

OUTCOME_ICONS = {
    "posted": "📨",
    "duplicate": "🔁",
    "suppressed": "🤫",
    "silent": "💤",
    "skipped": "⏭",
    "failed": "❌",
}


class HeartbeatView:
    def __init__(self, settings: Settings, schedules: HeartbeatSchedules) -> None:
        self.settings = settings
        self.schedules = schedules
        self.store = schedules.store

    async def view(self, target: HeartbeatTarget, runs: int = 5) -> str:
        row = await self.store.get(target)
        if row is None:
            return f"🫀 No heartbeat for {esc(target.describe())}. Turn it on with /heartbeat on."
        config = self.schedules.config(row)
        lines = [f"🫀 <b>Heartbeat</b> · <code>{esc(target.schedule_id)}</code>"]
        lines += await self._schedule_lines(target, row, config)
        usable = await self.store.template_ids(row.chat_id)
        lines.append(self._prompt_line(config, row, usable))
        lines += self._settings_lines(config)
        overrides = overrides_of(row).explicit()
        if overrides:
            shown = ", ".join(f"{k}={truncate_utf16(str(v), 40)}" for k, v in overrides.items())
            lines.append(f"overrides: {esc(shown)}")
        recent = await self.store.recent_runs(target, limit=runs)
        if recent:
            lines.append(f"<b>Last runs</b> ({row.run_count} in all):")
            for run in recent:
                icon = OUTCOME_ICONS.get(run.outcome, "•")
                lines.append(
                    f"{icon} #{run.run_number} {run.started_at:%m-%d %H:%M} UTC {run.outcome} — "
                    f"{esc(truncate_utf16(run.reason, 160))}"
                )
        else:
            lines.append("No runs yet.")
        lines.append("Change: /heartbeat set &lt;key&gt; &lt;value&gt; · on · off · fire · infer")
        return "\n".join(lines)

    async def list_targets(self) -> str:
        rows = await self.store.all()
        if not rows:
            return "No heartbeat targets."
        lines = ["<b>Heartbeats</b>"]
        for row in rows:
            config = self.schedules.config(row)
            state = "on" if row.enabled else "off"
            last = f", last run {row.last_run_at:%m-%d %H:%M}" if row.last_run_at else ""
            lines.append(
                f"<code>{esc(row.id)}</code> {state}, every {config.interval_minutes} min, "
                f"{row.run_count} runs{last} ({esc(row.source)})"
            )
        return "\n".join(lines)

    async def _schedule_lines(
        self, target: HeartbeatTarget, row: HeartbeatTargetRow, config: HeartbeatConfig
    ) -> list[str]:
        """On or paused (Temporal is right when toggled outside the bot), the next run, the
        schedule's note, a run in progress."""
        desc = await self.schedules.describe_schedule(target)
        if desc is None:
            return ["schedule: ⚠️ missing in Temporal — /heartbeat on recreates it"]
        state = desc.schedule.state
        if state.paused != (not row.enabled):
            await self.store.set_enabled(target, not state.paused)
        status = "⏸ paused" if state.paused else "▶️ on"
        nxt = desc.info.next_action_times[0] if desc.info.next_action_times else None
        lines = [
            f"{status} · every {config.interval_minutes} min"
            + (" (clock-aligned)" if config.clock_aligned else "")
            + (f" · next {nxt:%H:%M:%S} UTC" if nxt and not state.paused else "")
        ]
        if state.note:
            lines.append(f"note: <i>{esc(truncate_utf16(state.note, 300))}</i>")
        if desc.info.running_actions:
            lines.append("a run is in progress now")
        return lines

    def _settings_lines(self, config: HeartbeatConfig) -> list[str]:
        """Dispatch, quiet hours and the LLM budget, as the target has them in effect."""
        dispatch = f"dispatch: {config.dispatch_mode}" + (
            "" if config.dispatch_results else " · results stored, not posted"
        )
        if config.trigger_response:
            dispatch += " · follow-up job after each result"
        quiet = format_window(config.quiet_window)
        if config.quiet_window:
            cadence = (
                "no runs"
                if config.quiet_interval_minutes == 0
                else f"one run per {config.quiet_interval_minutes} min"
            )
            quiet_line = f"quiet hours: {quiet} {esc(config.timezone)} ({cadence})"
        else:
            quiet_line = f"quiet hours: none (timezone {esc(config.timezone)})"
        llm = (
            f"LLM: {esc(config.model)}, ≤ {config.max_llm_calls} calls / "
            f"{config.max_llm_tokens} tokens a run"
            if self.settings.llm_enabled
            else "LLM: not configured — job changes only"
        )
        return [dispatch, quiet_line, llm]

    def _prompt_line(
        self, config: HeartbeatConfig, row: HeartbeatTargetRow, usable_templates: list[str]
    ) -> str:
        if config.workflow_id:
            return (
                f"runs workflow: <b>{esc(config.workflow_id)}</b> "
                f"({esc(config.workflow_session_mode)} session)"
            )
        sources = []
        if config.workspace_file_path:
            sources.append(self._file_state(target_of(row), config.workspace_file_path))
        if config.prompt_template_id:
            missing = config.prompt_template_id not in usable_templates
            sources.append(
                f"template {esc(config.prompt_template_id)}"
                + (" (not available in this chat, skipped)" if missing else "")
            )
        if config.prompt:
            sources.append("inline prompt")
        if config.default_prompt:
            sources.append("HEARTBEAT_DEFAULT_PROMPT")
        return "prompt: " + (" → ".join(sources) or "none — job changes only")

    def _file_state(self, target: HeartbeatTarget, relative: str) -> str:
        try:
            with Workspace.open(self.settings.workspaces_dir, target.workspace_folder) as folder:
                items = len(checklist_items(folder.read_text(relative)))
        except FileMissing:
            return f"{esc(relative)} (created on the next run)"
        except (WorkspaceError, OSError):
            return f"{esc(relative)} (unreadable)"
        return f"{esc(relative)} ({items} item{'s' if items != 1 else ''})"

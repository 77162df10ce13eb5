"""Heartbeat administration, shared by the `/heartbeat` command and `hbo heartbeat …`: get (the
settings with the run history), update, toggle, fire, infer.

Every change goes to the database first and then to the target's schedule
(`core.heartbeat.schedules`); what the bot shows about on/off comes from the schedule itself, so
`temporal schedule toggle` and `/heartbeat` always agree.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from temporalio.client import Client

from core.db import Database
from core.errors import Refusal
from core.heartbeat.config import (
    SETTINGS,
    HeartbeatConfig,
    SettingError,
    apply_setting,
    defaults_from_settings,
    format_window,
    remove_setting,
    setting_names,
)
from core.heartbeat.prompt import checklist_items, default_checklist_template
from core.heartbeat.schedules import HeartbeatSchedules
from core.heartbeat.store import overrides_of, target_of
from core.heartbeat.target import HeartbeatTarget
from core.heartbeat.triggers import trigger_workflows
from core.jobs.client import list_jobs
from core.jobs.queries import chat_jobs_query
from core.llm.client import LlmUnavailable, llm_for
from core.render import esc, truncate_utf16
from core.settings import Settings
from core.store import ChatStore
from core.tables import SHARED_TEMPLATES, HeartbeatTargetRow
from core.workspace import FileMissing, Workspace, WorkspaceError

log = logging.getLogger(__name__)

OUTCOME_ICONS = {
    "posted": "📨",
    "duplicate": "🔁",
    "suppressed": "🤫",
    "silent": "💤",
    "skipped": "⏭",
    "failed": "❌",
}
INFER_SYSTEM = (
    "You write heartbeat checklists for a chat operator that runs background jobs. A heartbeat "
    "runs the checklist every few minutes and tells the person only when something needs "
    "attention. From the chat's recent jobs and workspace files, propose 3–6 short, concrete "
    "checklist items as Markdown bullets ('- ...'). Output only the bullets."
)


class NoHeartbeatError(Refusal, LookupError):
    """The target has no heartbeat yet."""


class HeartbeatAdmin:
    """The person-facing heartbeat operations; schedules are `HeartbeatSchedules`' to keep."""

    def __init__(self, settings: Settings, client: Client, db: Database) -> None:
        self.settings = settings
        self.client = client
        self.schedules = HeartbeatSchedules(settings, client, db)
        self.store = self.schedules.store
        self.chats = ChatStore(db)

    def config(self, row: HeartbeatTargetRow) -> HeartbeatConfig:
        return self.schedules.config(row)

    async def ensure(
        self, target: HeartbeatTarget, *, source: str, enabled: bool = True
    ) -> tuple[HeartbeatTargetRow, bool]:
        """The target's row and schedule, created when missing (`/heartbeat on`, `set`, …)."""
        return await self.schedules.ensure(target, source=source, enabled=enabled)

    async def _row(self, target: HeartbeatTarget) -> HeartbeatTargetRow:
        row = await self.store.get(target)
        if row is None:
            raise NoHeartbeatError(
                f"no heartbeat for {target.describe()} yet; /heartbeat on creates it"
            )
        return row

    # --- get, with the run history -----------------------------------------------------------
    async def view(self, target: HeartbeatTarget, runs: int = 5) -> str:
        row = await self.store.get(target)
        if row is None:
            return f"🫀 No heartbeat for {esc(target.describe())}. Turn it on with /heartbeat on."
        config = self.config(row)
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

    # --- update ------------------------------------------------------------------------------
    async def set(self, target: HeartbeatTarget, key: str, value: str, by: int | None) -> str:
        if key.strip().lower() == "enabled":
            return await self.toggle(target, _truthy(value), by)
        row, _ = await self.ensure(target, source="command")
        try:
            overrides, name = apply_setting(
                overrides_of(row),
                key,
                value,
                known_workflows=trigger_workflows(),
                known_templates=await self.store.template_ids(target.chat_id),
                caps=defaults_from_settings(self.settings),
            )
        except SettingError as exc:
            return f"⚠️ {esc(exc)} Nothing changed."
        before = getattr(self.config(row), name, None) if name != "quiet_hours" else None
        await self.store.set_overrides(target, overrides)
        row = await self._row(target)
        await self.schedules.sync_schedule(row)
        after = self.config(row)
        shown = format_window(after.quiet_window) if name == "quiet_hours" else getattr(after, name)
        text = f"✅ {esc(name)} = <code>{esc(truncate_utf16(str(shown), 200))}</code>"
        if before is not None and before != shown:
            text += f" (was {esc(truncate_utf16(str(before), 60))})"
        return text

    async def unset(self, target: HeartbeatTarget, key: str) -> str:
        row = await self._row(target)
        try:
            overrides, name = remove_setting(overrides_of(row), key)
        except SettingError as exc:
            return f"⚠️ {esc(exc)} Nothing changed."
        await self.store.set_overrides(target, overrides)
        await self.schedules.sync_schedule(await self._row(target))
        return f"✅ {esc(name)} follows the global default again."

    # --- toggle, fire ------------------------------------------------------------------------
    async def toggle(self, target: HeartbeatTarget, on: bool, by: int | None) -> str:
        await self.ensure(target, source="command", enabled=on)
        await self.store.set_enabled(target, on)
        who = f"user {by}" if by is not None else "the CLI"
        handle = self.client.get_schedule_handle(target.schedule_id)
        if await self.schedules.describe_schedule(target) is None:
            await self.schedules.sync_schedule(await self._row(target))
        if on:
            await handle.unpause(note=f"turned on by {who}")
            interval = self.config(await self._row(target)).interval_minutes
            aligned = self.config(await self._row(target)).clock_aligned
            where = (
                "at multiples of it from midnight UTC"
                if aligned
                else "at this chat's own minute (/heartbeat set clock_aligned true for :00, :15 …)"
            )
            return f"▶️ Heartbeat on: every {interval} min, {where}."
        await handle.pause(note=f"turned off by {who}")
        return "⏸ Heartbeat off. /heartbeat on resumes it."

    async def fire(self, target: HeartbeatTarget) -> str:
        await self._row(target)
        if await self.schedules.describe_schedule(target) is None:
            await self.schedules.sync_schedule(await self._row(target))
        # Overlap SKIP applies: a run already in progress is not doubled. The request lets that
        # run pass the quiet-hours and busy gates (the person is asking for it now).
        await self.store.request_fire(target, datetime.now(UTC))
        await self.client.get_schedule_handle(target.schedule_id).trigger()
        return "🫀 Heartbeat fired; anything worth saying arrives in a moment."

    # --- infer a prompt ----------------------------------------------------------------------
    async def infer(self, target: HeartbeatTarget) -> tuple[str, bool]:
        """A proposed checklist (stored until accepted), and whether there is one."""
        llm = llm_for(self.settings, interactive=True)
        if llm is None:
            return (
                "⚠️ Inferring a heartbeat prompt needs an LLM (set OPENAI_API_KEY). You can "
                "write the checklist yourself in HEARTBEAT.md or with /heartbeat set prompt …",
                False,
            )
        row, _ = await self.ensure(target, source="command")
        context = await self._infer_context(target)
        try:
            proposal = await llm.ask(self.config(row).model, INFER_SYSTEM, context, max_tokens=600)
        except LlmUnavailable as exc:
            log.warning("heartbeat infer for chat %s: %s", target.chat_id, exc)
            return (
                "⚠️ The language model is not answering right now, so no checklist was "
                "proposed. Nothing changed; try again later, or write the checklist yourself "
                "in HEARTBEAT.md or with /heartbeat set prompt …",
                False,
            )
        if not checklist_items(proposal):
            return "⚠️ The LLM did not propose a usable checklist. Nothing changed.", False
        await self.store.set_proposed_prompt(target, proposal[:4000])
        return (
            "🫀 Proposed heartbeat checklist:\n"
            f"<pre>{esc(truncate_utf16(proposal, 3000))}</pre>\n"
            "Use it with /heartbeat infer accept (nothing changes until you do).",
            True,
        )

    async def _infer_context(self, target: HeartbeatTarget) -> str:
        recent = await list_jobs(self.client, chat_jobs_query(target.chat_id), limit=20)
        jobs = [f"- {job.job_id}: {job.goal[:200]}" for job in recent]
        files: list[str] = []
        try:
            with Workspace.open(self.settings.workspaces_dir, target.workspace_folder) as folder:
                files = folder.list_files(limit=50)
        except (WorkspaceError, OSError):
            pass
        return (
            "Recent jobs:\n"
            + ("\n".join(jobs) or "(none)")
            + "\n\nWorkspace files:\n"
            + ("\n".join(f"- {f}" for f in files) or "(none)")
        )

    async def accept_inferred(self, target: HeartbeatTarget) -> str:
        row = await self._row(target)
        proposal = row.proposed_prompt
        if not proposal:
            return "Nothing to accept: ask for a proposal with /heartbeat infer first."
        config = self.config(row)
        if config.workspace_file_path:
            header = default_checklist_template().split("## Items", 1)[0]
            # A refusal (the file's name taken by a link or a folder) keeps the proposal.
            with Workspace.open(self.settings.workspaces_dir, target.workspace_folder) as folder:
                folder.write_text(config.workspace_file_path, f"{header}## Items\n\n{proposal}\n")
            await self.store.set_proposed_prompt(target, None)
            return (
                f"✅ Saved as the checklist in {esc(config.workspace_file_path)}; "
                "the next run uses it."
            )
        await self.store.set_proposed_prompt(target, None)
        overrides, _ = apply_setting(overrides_of(row), "prompt", proposal)
        await self.store.set_overrides(target, overrides)
        return "✅ Saved as this heartbeat's prompt; the next run uses it."

    # --- templates ---------------------------------------------------------------------------
    async def save_template(self, template_id: str, body: str, *, chat_id: int) -> str:
        """Save a template for one chat; `chat_id` SHARED_TEMPLATES (the owner's CLI) saves a
        shared one, offered to every chat."""
        try:
            template_id = SETTINGS["prompt_template_id"].parse(template_id)
        except SettingError as exc:
            return f"⚠️ {esc(exc)} Nothing changed."
        if not body.strip():
            return "⚠️ A template needs some text. Nothing changed."
        await self.store.put_template(template_id, body.strip()[:4000], chat_id=chat_id)
        whose = "shared with every chat" if chat_id == SHARED_TEMPLATES else "for this chat"
        return (
            f"✅ Template <code>{esc(template_id)}</code> saved {whose}; use it with "
            f"/heartbeat set template {esc(template_id)}."
        )

    async def chat_templates(self, chat_id: int) -> str:
        ids = await self.store.template_ids(chat_id)
        if not ids:
            return (
                "No prompt templates yet. Save one with "
                "/heartbeat template &lt;id&gt; &lt;text&gt;."
            )
        return "Prompt templates this chat can use: " + ", ".join(
            f"<code>{esc(i)}</code>" for i in ids
        )

    async def list_templates(self) -> str:
        """Every chat's templates (the owner's view, from the CLI)."""
        rows = await self.store.all_templates()
        if not rows:
            return "No prompt templates."
        lines = ["<b>Prompt templates</b>"]
        for row in rows:
            whose = "shared" if row.chat_id == SHARED_TEMPLATES else f"chat {row.chat_id}"
            lines.append(
                f"<code>{esc(row.id)}</code> ({whose}): {esc(truncate_utf16(row.body, 80))}"
            )
        return "\n".join(lines)

    async def share_template(self, chat_id: int, template_id: str) -> str:
        """The owner's action: chat `chat_id`'s template becomes a shared one."""
        if not await self.store.share_template(template_id, from_chat=chat_id):
            return f"⚠️ Chat {chat_id} has no template {esc(template_id)}. Nothing changed."
        return f"✅ Template <code>{esc(template_id)}</code> of chat {chat_id} is now shared."

    async def unshare_template(self, template_id: str) -> str:
        if not await self.store.delete_template(template_id, chat_id=SHARED_TEMPLATES):
            return f"⚠️ No shared template {esc(template_id)}. Nothing changed."
        return (
            f"✅ Template <code>{esc(template_id)}</code> is no longer shared; chats with a "
            "template of their own by that id keep theirs."
        )

    async def list_targets(self) -> str:
        rows = await self.store.all()
        if not rows:
            return "No heartbeat targets."
        lines = ["<b>Heartbeats</b>"]
        for row in rows:
            config = self.config(row)
            state = "on" if row.enabled else "off"
            last = f", last run {row.last_run_at:%m-%d %H:%M}" if row.last_run_at else ""
            lines.append(
                f"<code>{esc(row.id)}</code> {state}, every {config.interval_minutes} min, "
                f"{row.run_count} runs{last} ({esc(row.source)})"
            )
        return "\n".join(lines)


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "on", "yes", "1")


def settings_help() -> str:
    return "settings: " + ", ".join(setting_names())

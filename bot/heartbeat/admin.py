"""Heartbeat administration, shared by the `/heartbeat` command and `hbo heartbeat …`: one
object for the callers, its work in one module per concern —

- here: setting a key (`set`, `unset`), on/off, fire;
- `view.py`: what a target has in effect, with its runs; the list of targets;
- `infer.py`: a checklist proposed by the LLM, and accepting it;
- `templates.py`: prompt templates, a chat's own and the shared ones.

Every change goes to the database first and then to the target's schedule
(`core.io.heartbeat.schedules`); the settings themselves are declared once, in
`core.domain.heartbeat.config.HeartbeatConfig`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client

from bot.heartbeat.infer import HeartbeatInference
from bot.heartbeat.rows import NoHeartbeatError, require_row
from bot.heartbeat.templates import HeartbeatTemplates
from bot.heartbeat.view import HeartbeatView
from core.domain.heartbeat.config import (
    QUIET_HOURS_KEY,
    HeartbeatConfig,
    SettingError,
    apply_setting,
    defaults_from_settings,
    format_window,
    remove_setting,
    setting_names,
)
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.heartbeat.triggers import trigger_workflows
from core.domain.render import esc, truncate_utf16
from core.io.db import Database
from core.io.heartbeat.schedules import HeartbeatSchedules
from core.io.heartbeat.store import overrides_of
from core.io.settings import Settings
from core.io.store import ChatStore
from core.io.tables import HeartbeatTargetRow

__all__ = ["HeartbeatAdmin", "NoHeartbeatError", "settings_help"]


class HeartbeatAdmin:
    """The person-facing heartbeat operations; schedules are `HeartbeatSchedules`' to keep."""

    def __init__(self, settings: Settings, client: Client, db: Database) -> None:
        self.settings = settings
        self.client = client
        self.schedules = HeartbeatSchedules(settings, client, db)
        self.store = self.schedules.store
        self.chats = ChatStore(db)
        shown = HeartbeatView(settings, self.schedules)
        self.view = shown.view
        self.list_targets = shown.list_targets
        inference = HeartbeatInference(settings, client, self.schedules)
        self.infer = inference.infer
        self.accept_inferred = inference.accept_inferred
        templates = HeartbeatTemplates(self.store)
        self.save_template = templates.save_template
        self.chat_templates = templates.chat_templates
        self.list_templates = templates.list_templates
        self.share_template = templates.share_template
        self.unshare_template = templates.unshare_template

    def config(self, row: HeartbeatTargetRow) -> HeartbeatConfig:
        return self.schedules.config(row)

    async def ensure(
        self, target: HeartbeatTarget, *, source: str, enabled: bool = True
    ) -> tuple[HeartbeatTargetRow, bool]:
        """The target's row and schedule, created when missing (`/heartbeat on`, `set`, …)."""
        return await self.schedules.ensure(target, source=source, enabled=enabled)

    async def _row(self, target: HeartbeatTarget) -> HeartbeatTargetRow:
        return await require_row(self.store, target)

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
        before = getattr(self.config(row), name, None) if name != QUIET_HOURS_KEY else None
        await self.store.set_overrides(target, overrides)
        row = await self._row(target)
        await self.schedules.sync_schedule(row)
        after = self.config(row)
        shown = (
            format_window(after.quiet_window) if name == QUIET_HOURS_KEY else getattr(after, name)
        )
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


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "on", "yes", "1")


def settings_help() -> str:
    return "settings: " + ", ".join(setting_names())

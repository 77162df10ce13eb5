"""Each heartbeat target's Temporal Schedule, kept in line with the database.

Temporal holds the schedule (interval, paused or not, its note); the database holds the
per-target overrides and the heartbeat log. A target is created in the database first and its
schedule right after; `sync_all` (at start-up and `hbo heartbeat sync`) creates the targets that
should exist and repairs any schedule a target lacks or whose interval is out of date.

Provisioning happens here and never while a person waits for an answer: a private chat's
heartbeat is created at start-up for each allowed person (or the console chat) and by
`/heartbeat on`, not on their first message.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import timedelta

from temporalio.client import (
    Client,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.domain.heartbeat.config import HeartbeatConfig, defaults_from_settings, resolve
from core.domain.heartbeat.schedule_spec import build_schedule, schedule_offset
from core.domain.heartbeat.target import SCHEDULE_PREFIX, HeartbeatTarget, parse_target
from core.io.db import Database
from core.io.heartbeat.store import HeartbeatStore, overrides_of, target_of
from core.io.settings import Settings
from core.io.tables import HeartbeatTargetRow
from core.io.temporal import TemporalNotFound, not_found_as

log = logging.getLogger(__name__)


def private_chats(settings: Settings, console_chat_id: int) -> list[int]:
    """The private chats that have a heartbeat from start-up: each allowed person's (a Telegram
    private chat's id is its person's user id), or in console mode the console chat alone —
    there no Telegram chat can reach the bot, so none gets a heartbeat of its own."""
    if settings.console_mode:
        return [console_chat_id]
    return list(dict.fromkeys(settings.telegram_allowed_user_ids))


class HeartbeatSchedules:
    def __init__(self, settings: Settings, client: Client, db: Database) -> None:
        self.settings = settings
        self.client = client
        self.store = HeartbeatStore(db)

    def config(self, row: HeartbeatTargetRow) -> HeartbeatConfig:
        return resolve(
            defaults_from_settings(self.settings), overrides_of(row), enabled=row.enabled
        )

    async def ensure(
        self, target: HeartbeatTarget, *, source: str, enabled: bool = True
    ) -> tuple[HeartbeatTargetRow, bool]:
        """The target's row, created (with its schedule) when missing; and whether it was."""
        row, created = await self.store.create(target, source=source, enabled=enabled)
        if created:
            await self.sync_schedule(row)
            log.info("heartbeat %s created (%s)", target.schedule_id, source)
        return row, created

    async def sync_schedule(
        self, row: HeartbeatTargetRow, *, every: timedelta | None = None, note: str | None = None
    ) -> None:
        """Create the target's schedule, or bring its spec/action in line with the database
        (read-modify-write: its paused state and note are kept unless `note` is given)."""
        config = self.config(row)
        target = target_of(row)
        schedule = build_schedule(
            target,
            every=every or timedelta(minutes=config.interval_minutes),
            clock_aligned=config.clock_aligned,
            paused=not row.enabled,
            note=note or f"heartbeat for {target.describe()}",
            settings_summary=overrides_of(row).explicit(),
        )
        try:
            await self.client.create_schedule(target.schedule_id, schedule)
            return
        except ScheduleAlreadyRunningError:
            pass  # it exists: updated below

        def change(current: ScheduleUpdateInput) -> ScheduleUpdate:
            existing = current.description.schedule
            state = (
                existing.state if note is None else dataclasses.replace(existing.state, note=note)
            )
            return ScheduleUpdate(
                schedule=dataclasses.replace(
                    existing,
                    action=schedule.action,
                    spec=schedule.spec,
                    policy=schedule.policy,
                    state=state,
                )
            )

        await self.client.get_schedule_handle(target.schedule_id).update(change)

    async def describe_schedule(self, target: HeartbeatTarget) -> ScheduleDescription | None:
        """The target's schedule as Temporal has it; None when it has none."""
        try:
            with not_found_as():
                return await self.client.get_schedule_handle(target.schedule_id).describe()
        except TemporalNotFound:
            return None

    async def sync_all(self, private: Iterable[int] = ()) -> list[str]:
        """Targets from HEARTBEAT_GROUP_TARGETS and the `private` chats (see `private_chats`)
        exist; every target has its schedule, with the current interval. A target that exists
        keeps its state (a heartbeat its chat turned off stays off). Returns what changed."""
        changed: list[str] = []
        wanted = [(parse_target(spec), "config") for spec in self.settings.heartbeat_group_targets]
        wanted += [(HeartbeatTarget(chat_id=chat_id), "auto") for chat_id in private]
        for target, source in wanted:
            _, created = await self.ensure(target, source=source)
            if created:
                changed.append(f"created {target.schedule_id} ({source})")
        existing: dict[str, tuple[timedelta, timedelta] | None] = {}
        async for listed in await self.client.list_schedules():
            if listed.id.startswith(SCHEDULE_PREFIX) and listed.schedule is not None:
                intervals = listed.schedule.spec.intervals
                existing[listed.id] = (
                    (intervals[0].every, intervals[0].offset or timedelta(0)) if intervals else None
                )
        for row in await self.store.all():
            config = self.config(row)
            every = timedelta(minutes=config.interval_minutes)
            want = (every, schedule_offset(row.id, every, clock_aligned=config.clock_aligned))
            if row.id not in existing or existing[row.id] != want:
                await self.sync_schedule(row)
                changed.append(f"synced {row.id}")
        return changed

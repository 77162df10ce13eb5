"""A target's heartbeat row, or the refusal a person sees when it has none yet."""

from __future__ import annotations

from core.domain.errors import Refusal
from core.domain.heartbeat.target import HeartbeatTarget
from core.io.heartbeat.store import HeartbeatStore
from core.io.tables import HeartbeatTargetRow


class NoHeartbeatError(Refusal, LookupError):
    """The target has no heartbeat yet."""


async def require_row(store: HeartbeatStore, target: HeartbeatTarget) -> HeartbeatTargetRow:
    row = await store.get(target)
    if row is None:
        raise NoHeartbeatError(
            f"no heartbeat for {target.describe()} yet; /heartbeat on creates it"
        )
    return row

"""What every heartbeat activity needs from its process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.client import Client

from activities.heartbeat.validate import ChatValidator, build_validator
from activities.telegram.sender import Sender
from core.domain.heartbeat.config import HeartbeatConfig, defaults_from_settings
from core.domain.registry import WorkerRegistry
from core.io.db import Database
from core.io.heartbeat.store import HeartbeatStore
from core.io.llm.client import Llm, llm_for
from core.io.settings import Settings
from core.io.store import utcnow

Clock = Callable[[], datetime]


@dataclass
class HeartbeatDeps:
    """What the heartbeat activities need from their process. `clock` is injectable so tests
    can move time for the guards (cooldown, validation TTL, stale jobs, push grace)."""

    settings: Settings
    client: Client
    db: Database
    registry: WorkerRegistry
    sender: Sender
    clock: Clock = utcnow
    validator: ChatValidator | None = None
    llm: Callable[[], Llm | None] | None = None  # tests stand in a model; else `llm_for`
    store: HeartbeatStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = HeartbeatStore(self.db)

    def chat_validator(self) -> ChatValidator:
        if self.validator is None:
            self.validator = build_validator(self.sender)
        return self.validator

    def llm_for(self) -> Llm | None:
        """The model for the agent, through the one wrapper (breaker, job timeout) as every
        other call site; read at each run, so a changed setting applies to the next one."""
        return self.llm() if self.llm is not None else llm_for(self.settings, interactive=False)

    def defaults(self) -> HeartbeatConfig:
        return defaults_from_settings(self.settings)

"""What every heartbeat activity needs from its process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from openai import AsyncOpenAI
from temporalio.client import Client

from activities.heartbeat.validate import ChatValidator, build_validator
from activities.telegram.sender import Sender
from core.db import Database
from core.heartbeat.config import HeartbeatConfig, defaults_from_settings
from core.heartbeat.store import HeartbeatStore
from core.llm import llm_client
from core.registry import WorkerRegistry
from core.settings import Settings
from core.store import utcnow

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
    llm: Callable[[], AsyncOpenAI | None] | None = None
    store: HeartbeatStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = HeartbeatStore(self.db)

    def chat_validator(self) -> ChatValidator:
        if self.validator is None:
            self.validator = build_validator(self.sender)
        return self.validator

    def llm_client(self) -> AsyncOpenAI | None:
        return self.llm() if self.llm is not None else llm_client(self.settings)

    def defaults(self) -> HeartbeatConfig:
        return defaults_from_settings(self.settings)

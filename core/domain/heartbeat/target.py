"""A heartbeat target: a chat, or one forum topic inside a group (a group target).

The readable schedule id `heartbeat-<chat_id>[-<topic_id>]` is the target's identity everywhere:
the Temporal Schedule, the database row, the CLI (`temporal schedule describe -s heartbeat-…`).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

SCHEDULE_PREFIX = "heartbeat-"
_SCHEDULE_ID = re.compile(r"^heartbeat-(-?\d+)(?:-(\d+))?$")
_SPEC = re.compile(r"^\s*(-?\d+)\s*(?:[:/]\s*(\d+)\s*)?$")


class HeartbeatTarget(BaseModel):
    model_config = ConfigDict(frozen=True)

    chat_id: int
    topic_id: int | None = None

    @property
    def schedule_id(self) -> str:
        suffix = f"-{self.topic_id}" if self.topic_id is not None else ""
        return f"{SCHEDULE_PREFIX}{self.chat_id}{suffix}"

    @property
    def is_group(self) -> bool:
        """Telegram group and channel ids are negative; private chats are the user's id."""
        return self.chat_id < 0

    @property
    def workspace_folder(self) -> str:
        """The target's workspace folder name (a plain name, see core.io.workspace)."""
        sign = "n" if self.chat_id < 0 else ""
        topic = f"-topic-{self.topic_id}" if self.topic_id is not None else ""
        return f"chat-{sign}{abs(self.chat_id)}{topic}"

    def describe(self) -> str:
        where = f"chat {self.chat_id}"
        return where + (f", topic {self.topic_id}" if self.topic_id is not None else "")


def target_from_schedule_id(schedule_id: str) -> HeartbeatTarget | None:
    match = _SCHEDULE_ID.match(schedule_id)
    if not match:
        return None
    topic = match.group(2)
    return HeartbeatTarget(chat_id=int(match.group(1)), topic_id=int(topic) if topic else None)


def parse_target(text: str) -> HeartbeatTarget:
    """`-1001234567890:42`, `-1001234567890/42`, `1001` or `heartbeat-…` -> a target."""
    text = text.strip()
    from_id = target_from_schedule_id(text)
    if from_id is not None:
        return from_id
    match = _SPEC.match(text)
    if not match:
        raise ValueError(
            f"target {text!r} is not chat_id[:topic_id] (for example -1001234567890:42)"
        )
    topic = match.group(2)
    return HeartbeatTarget(chat_id=int(match.group(1)), topic_id=int(topic) if topic else None)

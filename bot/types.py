"""What a transport hands the operator, and what the operator hands back."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.messages import Button


class Incoming(BaseModel):
    user_id: int | None
    chat_id: int
    chat_type: str = "private"
    topic_id: int | None = None
    text: str | None = None
    callback_data: str | None = None
    username: str | None = None
    # Only the local console sets this: the person at the terminal owns the machine.
    trusted: bool = False


class Reply(BaseModel):
    text: str  # Telegram HTML
    buttons: list[Button] = Field(default_factory=list)
    job_id: str | None = None  # set on a job card
    toast: str | None = None  # short answer to a button press

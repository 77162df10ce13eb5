"""Outgoing chat messages, as data: the notify activity and both transports speak this."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Button(BaseModel):
    label: str
    # Callback data holds only an action and an id (Telegram allows 64 bytes).
    data: str = Field(max_length=64)


class ChatMessage(BaseModel):
    chat_id: int
    topic_id: int | None = None
    text: str  # Telegram HTML
    buttons: list[Button] = Field(default_factory=list)
    # A workspace file to attach when text alone is too long: `<chat folder>/<path inside it>`
    # (`chat-1/job-abc/report.md`), the folder being the chat's own; the sender opens the path
    # beneath that folder's handle without following links (`core.io.workspace`).
    document_path: str | None = None
    # A document made of this text, attached after the message (a command too long to show in
    # a message goes whole this way); `document_name` is its file name.
    document_text: str | None = None
    document_name: str = "attached.txt"
    # Delivered without ringing the phone (Telegram's disable_notification): an addition to a
    # message the person was already notified of, such as a job's summary as a follow-up.
    silent: bool = False


class PhotoMessage(BaseModel):
    """A picture for a chat (a PNG), with a plain-text caption (≤ 1024 characters)."""

    # Raw bytes in Python; base64 in JSON (Temporal payloads).
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    chat_id: int
    topic_id: int | None = None
    png: bytes
    caption: str = Field(default="", max_length=1024)
    filename: str = "chart.png"


class CardEdit(BaseModel):
    """A new version of a job's card (the first reply about a job), edited in place."""

    job_id: str
    chat_id: int
    message_id: int
    text: str
    buttons: list[Button] = Field(default_factory=list)


class NotifyResult(BaseModel):
    """What a notify activity did: sent (or not, and why), and the ids of the messages that
    show it (for a job's result: the message its summary is later edited into)."""

    sent: bool
    message_ids: list[int] = Field(default_factory=list)
    reason: str = ""


class SummaryNote(BaseModel):
    """A job's model summary, added to its result message after the result was told: edited
    into `message_id` as `edited_text` when both are set (an edit does not ring the phone),
    else sent as `follow_up`, a silent message of its own. Recorded once in the report ledger."""

    job_id: str
    chat_id: int
    topic_id: int | None = None
    message_id: int | None = None
    edited_text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    follow_up: str


class JobNotification(BaseModel):
    """A job's state change to tell its chat about, at most once (ledger compare-and-set).

    `card` brings the job's card up to date in the same activity, so a job's end costs one
    activity, not two."""

    job_id: str
    status: str  # what the ledger records once told (the state, or state#episode)
    message: ChatMessage
    card: CardEdit | None = None
    # The job ended moments after its card was shown: edit the card into the result (one
    # message) when the result fits in one message.
    replace_card: bool = False
    # When the job reached its final state (for the result-delivery latency metric).
    changed_at: datetime | None = None

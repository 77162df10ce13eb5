"""What a transport hands the operator, and what the operator hands back."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.domain.messages import Button


class Attachment(BaseModel):
    """A file a person gives a job: a Telegram document (`file_id`) or, in the console, a file
    under the data folder (`local_path`). Names and sizes are as the person's side reported
    them; `bot/uploads.py` checks them before anything starts."""

    file_name: str | None = None
    size: int | None = None
    file_id: str | None = None
    local_path: str | None = None
    # Carried by the message the command replies to, not by the command's own message.
    replied: bool = False


class Incoming(BaseModel):
    user_id: int | None
    chat_id: int
    chat_type: str = "private"
    topic_id: int | None = None
    text: str | None = None
    callback_data: str | None = None
    username: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    # What names this message at its transport (Telegram: bot, chat and message id), the same
    # when it is delivered again; the jobs it asks for get ids derived from it. None: new ids.
    request_key: str | None = None
    # Only the local console sets this: the person at the terminal owns the machine.
    trusted: bool = False
    # The bot's own username at this transport (Telegram: from getMe), so a command addressed
    # to another bot (`/exec@other_bot`) is told apart from one for this bot. None: no name.
    bot_username: str | None = None


class Reply(BaseModel):
    text: str  # Telegram HTML
    buttons: list[Button] = Field(default_factory=list)
    job_id: str | None = None  # set on a job card
    toast: str | None = None  # short answer to a button press
    # The pressed button's message is out of date (its job moved on): its buttons are removed.
    stale: bool = False
    # A document attached after the text (a command too long to show whole in a message).
    document_text: str | None = None
    document_name: str = "attached.txt"

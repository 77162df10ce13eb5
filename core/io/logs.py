"""Logging set-up: secrets are redacted from everything written (messages and tracebacks),
noisy HTTP loggers quietened. `HBO_LOG_FORMAT=json` writes one JSON object per line carrying the
job, chat, workflow and activity ids where they are known (see `JsonFormatter`)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as LibraryJsonFormatter
from temporalio import activity, workflow

from core.domain.jobs.queries import JOB_WORKFLOW
from core.io.settings import Settings

# The chat whose update is being handled (set by the operator around each message), so every
# record logged while answering it carries the chat id without passing it down.
CURRENT_CHAT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "hbo_current_chat", default=None
)


@contextlib.contextmanager
def chat_context(chat_id: int) -> Iterator[None]:
    token = CURRENT_CHAT.set(chat_id)
    try:
        yield
    finally:
        CURRENT_CHAT.reset(token)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    return text


class RedactSecrets(logging.Filter):
    """Redacts the record's message, for handlers whose formatter we do not control."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = _redact(message, self.secrets)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted output, tracebacks and exception texts included."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


class OneLineFormatter(RedactingFormatter):
    """For a terminal shared with the console chat: the error's line, never its traceback
    (that goes to the log file)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return super().format(record) + " (details in the log file)"
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def log_context(record: logging.LogRecord) -> dict[str, Any]:
    """The ids a record can be tied to: Temporal's own logger details (`temporal_workflow` on
    records from `workflow.logger`, `temporal_activity` from `activity.logger`), the running
    activity for any other logger used inside one, the chat being answered, and an explicit
    `extra={"job_id": …}` / `extra={"chat_id": …}`."""
    out: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for name in ("temporal_workflow", "temporal_activity"):
        value = getattr(record, name, None)
        if isinstance(value, dict):
            details.update(value)
    if not details and activity.in_activity():
        info = activity.info()
        details = {
            "workflow_id": info.workflow_id,
            "workflow_type": info.workflow_type,
            "workflow_run_id": info.workflow_run_id,
            "activity_id": info.activity_id,
            "activity_type": info.activity_type,
        }
    workflow_id = details.get("workflow_id")
    if workflow_id:
        out["workflow_id"] = workflow_id
        out["workflow_type"] = details.get("workflow_type")
        run_id = details.get("run_id") or details.get("workflow_run_id")
        if run_id:
            out["run_id"] = run_id
        if details.get("workflow_type") == JOB_WORKFLOW:
            out["job_id"] = workflow_id
    if details.get("activity_id"):
        out["activity_id"] = details["activity_id"]
        out["activity_type"] = details.get("activity_type")
    chat = getattr(record, "chat_id", None) or CURRENT_CHAT.get()
    if chat is not None:
        out["chat_id"] = chat
    job = getattr(record, "job_id", None)
    if job:
        out["job_id"] = job
    return out


class JsonFormatter(LibraryJsonFormatter):
    """One JSON object per line (python-json-logger): time (UTC, ISO 8601), level, logger,
    message, the ids of `log_context` and any `extra=`, and the traceback as `exc_info` text.
    Secrets are redacted from each value before encoding (an escape inside the JSON cannot hide
    one) and from the whole line after."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            # Temporal's own details become the ids of `log_context`, not nested copies.
            reserved_attrs=[*RESERVED_ATTRS, "taskName", "temporal_workflow", "temporal_activity"],
            json_ensure_ascii=False,
        )
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.update(log_context(record))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            key: _redact(value, self.secrets) if isinstance(value, str) else value
            for key, value in log_data.items()
        }

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


class OneLineJsonFormatter(JsonFormatter):
    """JSON on a terminal shared with the console chat: no traceback (the log file has it)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def formatter_for(
    settings: Settings, secrets: list[str], *, terminal: bool = False
) -> logging.Formatter:
    """The formatter `HBO_LOG_FORMAT` names (`terminal`: the console chat's shared terminal)."""
    if settings.log_format == "json":
        return OneLineJsonFormatter(secrets) if terminal else JsonFormatter(secrets)
    return OneLineFormatter(FORMAT, secrets) if terminal else RedactingFormatter(FORMAT, secrets)


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.openai_api_key, settings.temporal_api_key]
    return [v.get_secret_value() for v in values if v is not None]


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(settings: Settings, *, to_file: bool = False) -> None:
    """Log to stderr; with `to_file` (the console chat owns the terminal) log to
    `<data>/hbo.log` and keep only errors on stderr."""
    secrets = secrets_of(settings)
    formatter = formatter_for(settings, secrets)
    redact = RedactSecrets(secrets)
    stream = logging.StreamHandler()
    handlers: list[logging.Handler] = [stream]
    if to_file:
        settings.data_path.mkdir(parents=True, exist_ok=True)
        stream.setLevel(logging.ERROR)
        handlers.append(logging.FileHandler(settings.data_path / "hbo.log"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redact)
    if to_file:
        stream.setFormatter(formatter_for(settings, secrets, terminal=True))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(settings.log_level.upper())
    # Temporal appends its ids to the message for text logs; JSON carries them as fields.
    as_text = settings.log_format == "text"
    workflow.logger.workflow_info_on_message = as_text
    activity.logger.activity_info_on_message = as_text
    # httpx logs full request URLs, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # With no retries of its own, the limiter logs every 429 with a traceback; the delivery
    # handles and logs them (activities/telegram/delivery.py).
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)

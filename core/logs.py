"""Logging set-up: secrets are redacted from everything written (messages and tracebacks),
noisy HTTP loggers quietened."""

from __future__ import annotations

import logging

from core.settings import Settings


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


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.openai_api_key, settings.temporal_api_key]
    return [v.get_secret_value() for v in values if v is not None]


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(settings: Settings, *, to_file: bool = False) -> None:
    """Log to stderr; with `to_file` (the console chat owns the terminal) log to
    `<data>/hbo.log` and keep only errors on stderr."""
    secrets = secrets_of(settings)
    formatter = RedactingFormatter(FORMAT, secrets)
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
        stream.setFormatter(OneLineFormatter(FORMAT, secrets))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(settings.log_level.upper())
    # httpx logs full request URLs, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # With no retries of its own, the limiter logs every 429 with a traceback; the delivery
    # handles and logs them (activities/senders.py).
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)

"""Settings: the public environment names, parsing, and clear errors for bad values."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from core.domain.ids import normalize_job_id, workspace_name
from core.domain.timewindows import parse_hhmm, parse_quiet_window
from core.io.logs import RedactingFormatter, RedactSecrets
from core.io.settings import Settings


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_defaults_are_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TEMPORAL_ADDRESS",
        "DATABASE_URL",
        "OPENAI_API_KEY",
        "HBO_DATA_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = make()
    assert settings.console_mode and not settings.llm_enabled
    assert settings.temporal_target == "127.0.0.1:7233" and settings.temporal_ui_port == 8233
    assert settings.database_url == f"sqlite+aiosqlite:///{Path('data').resolve() / 'operator.db'}"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"


def test_environment_names_are_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_ALLOWED_USER_IDS", " 11, 22 ,33")
    monkeypatch.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot/")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("HBO_DATA_DIR", "/tmp/hbo-x")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.telegram_allowed_user_ids == [11, 22, 33]
    assert settings.is_allowed_user(22) and not settings.is_allowed_user(44)
    assert not settings.is_allowed_user(None)
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot"
    assert settings.temporal_target == "temporal:7233"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.workspaces_dir == Path("/tmp/hbo-x/workspaces")
    assert not settings.console_mode


def test_group_chats_need_their_own_allowance() -> None:
    settings = make(TELEGRAM_ALLOWED_USER_IDS="1", TELEGRAM_ALLOWED_CHAT_IDS="-100777")
    assert settings.is_allowed_chat(1, "private")
    assert settings.is_allowed_chat(-100777, "supergroup")
    assert not settings.is_allowed_chat(-100888, "group")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEGRAM_ALLOWED_USER_IDS": "12,abc"}, "comma-separated numeric ids"),
        ({"TIMEZONE": "Mars/Olympus"}, "unknown timezone"),
        ({"HEARTBEAT_QUIET_HOURS": "23:00"}, "must look like 23:00-07:00"),
        ({"HEARTBEAT_QUIET_HOURS": "25:00-07:00"}, "is not HH:MM"),
        ({"HEARTBEAT_INTERVAL_MINUTES": "0"}, "greater than or equal to 1"),
        ({"TASK_MAX_RUN_SECONDS": "-5"}, "greater than or equal to 1"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**env)


def test_quiet_hours_syntax() -> None:
    assert parse_hhmm("24:00") == 1440 and parse_hhmm("07:30") == 450
    assert parse_quiet_window("23:00-07:00") == (1380, 420)
    assert parse_quiet_window("") is None
    with pytest.raises(ValueError, match="cannot start at 24:00"):
        parse_quiet_window("24:00-07:00")


def test_secrets_stay_secret() -> None:
    settings = make(TELEGRAM_BOT_TOKEN="123456:SECRET-token", OPENAI_API_KEY="sk-secret-key")
    assert "SECRET-token" not in repr(settings) and "sk-secret-key" not in str(settings)
    redact = RedactSecrets(["123456:SECRET-token"])
    record = logging.LogRecord(
        "x", logging.INFO, "", 0, "POST https://api/bot%s/getMe", ("123456:SECRET-token",), None
    )
    redact.filter(record)
    assert "SECRET" not in record.getMessage() and "[REDACTED]" in record.getMessage()


def test_tracebacks_are_redacted_too() -> None:
    formatter = RedactingFormatter("%(message)s", ["123456:SECRET-token"])
    try:
        raise RuntimeError(
            "POST https://api.telegram.org/bot123456:SECRET-token/sendMessage failed"
        )
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, "", 0, "send failed", (), sys.exc_info())
    text = formatter.format(record)
    assert "Traceback" in text and "SECRET" not in text and "[REDACTED]" in text


@pytest.mark.parametrize(
    ("text", "job_id"),
    [
        ("job-abc123", "job-abc123"),
        ("abc123", "job-abc123"),
        ("#job-abc123", "job-abc123"),
        ("  JOB-abc123 ", "job-abc123"),
        ("job-abc123-2026-11-25T09:00:00Z", "job-abc123-2026-11-25T09:00:00Z"),
    ],
)
def test_job_ids_from_people(text: str, job_id: str) -> None:
    assert normalize_job_id(text) == job_id


def test_workspace_names_are_filesystem_safe() -> None:
    assert (
        workspace_name(7, "job-abc123-2026-11-25T09:00:00Z")
        == "chat-7/job-abc123-2026-11-25t09-00-00z"
    )

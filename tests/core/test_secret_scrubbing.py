"""The operator's secrets stay out of two places: a child's environment (`secret_free_env`,
which builds the environment of the isolated execution worker and the dev server) and every
log line (`secrets_of` names what the formatters redact) — each secret on its own."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from core.io.logs import formatter_for, secrets_of
from core.io.process import BASE_ENV_NAMES, _scrubbed, secret_free_env
from core.io.settings import SECRET_ENV_NAMES, Settings
from tests.support.stack import make_settings

SECRET_VALUES = {
    "TELEGRAM_BOT_TOKEN": "123456:telegram-token-value-for-tests",
    "OPENAI_API_KEY": "sk-openai-key-value-for-tests",
    "TEMPORAL_API_KEY": "temporal-cloud-key-value-for-tests",
    "DATABASE_URL": "postgresql+asyncpg://u:db-password-for-tests@127.0.0.1/x",
}


@pytest.mark.parametrize("secret", SECRET_ENV_NAMES)
def test_a_child_environment_never_carries_a_secret(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("HBO_PLAIN_SETTING", "kept")
    monkeypatch.setenv("HBO_NOT_ASKED_FOR", "dropped")
    # Even a secret that someone put on the keep list (an allowlist typed by the owner).
    env = secret_free_env(["HBO_PLAIN_SETTING", secret], SECRET_ENV_NAMES)
    assert secret not in env
    assert not set(env) & set(SECRET_ENV_NAMES), sorted(env)
    assert not any(value in " ".join(env.values()) for value in SECRET_VALUES.values())
    assert env["HBO_PLAIN_SETTING"] == "kept" and env["PATH"] == "/usr/bin:/bin"
    assert "HBO_NOT_ASKED_FOR" not in env
    assert set(env) <= {*BASE_ENV_NAMES, "HBO_PLAIN_SETTING"}


def test_a_base_name_listed_as_secret_is_dropped_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = secret_free_env([], ["HOME"])
    assert "HOME" not in env and env["LANG"] == "C.UTF-8"


def test_the_environment_block_scrub_overwrites_only_the_named_values() -> None:
    block = b"PATH=/bin\0OPENAI_API_KEY=sk-abc\0EMPTY_SECRET=\0OPENAI_API_KEY_OLD=x\0"
    scrubbed, done = _scrubbed(block, {b"OPENAI_API_KEY", b"EMPTY_SECRET"})
    assert scrubbed == b"PATH=/bin\0OPENAI_API_KEY=******\0EMPTY_SECRET=\0OPENAI_API_KEY_OLD=x\0"
    assert done == ["OPENAI_API_KEY"]
    assert len(scrubbed) == len(block)  # written back in place: the block keeps its size


def settings_with_every_secret(tmp_path: Path, log_format: str) -> Settings:
    return make_settings(
        tmp_path,
        "127.0.0.1:7233",
        TELEGRAM_BOT_TOKEN=SECRET_VALUES["TELEGRAM_BOT_TOKEN"],
        OPENAI_API_KEY=SECRET_VALUES["OPENAI_API_KEY"],
        TEMPORAL_API_KEY=SECRET_VALUES["TEMPORAL_API_KEY"],
        HBO_LOG_FORMAT=log_format,
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("secret", ["TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY", "TEMPORAL_API_KEY"])
def test_each_secret_is_redacted_from_log_lines(
    secret: str, log_format: str, terminal: bool, tmp_path: Path
) -> None:
    settings = settings_with_every_secret(tmp_path, log_format)
    value = SECRET_VALUES[secret]
    assert value in secrets_of(settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(settings, secrets_of(settings), terminal=terminal))
    logger = logging.getLogger(f"tests.secret_scrubbing.{secret}.{log_format}.{terminal}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s in the url", value)
        try:
            raise RuntimeError(f"the server said no to {value}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert value not in text, text
    assert "[REDACTED]" in text
    assert "calling with [REDACTED] in the url" in text


def test_no_secret_is_named_when_none_is_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "127.0.0.1:7233", TELEGRAM_BOT_TOKEN="")
    assert secrets_of(settings) == []

"""All configuration in one place (pydantic-settings; environment and `.env`).

The environment variable names are the public contract: README, `.env.example` and
`docker-compose.temporal.yml` use exactly these.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.domain.heartbeat_globals import HeartbeatGlobals

TELEGRAM_DEFAULT_BASE_URL = "https://api.telegram.org/bot"

# Settings a process that runs commands must never hold (DATABASE_URL may carry a password).
SECRET_ENV_NAMES = ("TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY", "TEMPORAL_API_KEY", "DATABASE_URL")


def _split_ids(value: object) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple | set):
        return [int(v) for v in value]
    items = [item.strip() for item in str(value).split(",")]
    try:
        return [int(item) for item in items if item]
    except ValueError as exc:
        raise ValueError(f"expected comma-separated numeric ids, got {value!r}") from exc


class Settings(HeartbeatGlobals, BaseSettings):
    """Every setting; the ones a heartbeat's defaults come from are declared in
    `HeartbeatGlobals` (pure, so the heartbeat's rules read their defaults without this loader)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- Telegram -----------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str = Field(default=TELEGRAM_DEFAULT_BASE_URL, alias="TELEGRAM_BASE_URL")
    telegram_allowed_user_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="TELEGRAM_ALLOWED_USER_IDS"
    )
    telegram_allowed_chat_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="TELEGRAM_ALLOWED_CHAT_IDS"
    )
    telegram_poll_timeout: float = Field(default=10.0, alias="TELEGRAM_POLL_TIMEOUT")
    # Telegram's bot-wide limit is about 30 messages a second; this leaves room for replies.
    # Enforced by each bot in-process and by the Temporal server on the notify task queue
    # across every worker process.
    telegram_max_messages_per_second: int = Field(
        default=25, ge=1, le=30, alias="TELEGRAM_MAX_MESSAGES_PER_SECOND"
    )
    # Largest file a person may give a job (a Telegram document, a console --attach). Telegram's
    # cloud Bot API hands bots files up to 20 MB; a self-hosted Bot API server allows more.
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1, alias="UPLOAD_MAX_BYTES")

    # --- Temporal -----------------------------------------------------------------------
    temporal_address: str | None = Field(default=None, alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_api_key: SecretStr | None = Field(default=None, alias="TEMPORAL_API_KEY")
    temporal_tls: bool = Field(default=False, alias="TEMPORAL_TLS")
    temporal_dev_port: int = Field(default=7233, alias="TEMPORAL_DEV_PORT")
    temporal_ui_port: int = Field(default=8233, alias="TEMPORAL_UI_PORT")
    # The Temporal Web UI as a person's browser reaches it, for the link under `/job <id>`;
    # empty = the embedded dev server's UI when there is one, else no link.
    temporal_ui_url: str | None = Field(default=None, alias="TEMPORAL_UI_URL")
    temporal_cli_path: str | None = Field(default=None, alias="TEMPORAL_CLI_PATH")

    # --- Operations -------------------------------------------------------------------
    # `/metrics` (the Temporal SDK's and the app's), `/healthz` and `/readyz` on one port per
    # process; unset = no endpoint.
    metrics_port: int | None = Field(default=None, ge=1, le=65535, alias="HBO_METRICS_PORT")
    metrics_host: str = Field(default="127.0.0.1", alias="HBO_METRICS_HOST")

    # --- Storage ------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("./data"), alias="HBO_DATA_DIR")
    database_url_setting: str | None = Field(default=None, alias="DATABASE_URL")

    # --- LLM (optional) -----------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    # The LLM is an enhancement: a call that fails or takes longer than these falls back to the
    # plain behaviour (keyword router, plain report), and a circuit breaker stops calling a dead
    # endpoint. Chat-facing calls (plain-words intake, /heartbeat infer): the person waits.
    llm_timeout_seconds: float = Field(default=5.0, gt=0, le=600, alias="LLM_TIMEOUT_SECONDS")
    # Calls inside jobs (report summary, research notes, the heartbeat agent).
    llm_job_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, alias="LLM_JOB_TIMEOUT_SECONDS"
    )
    # Consecutive failed calls that open the breaker, and how long it then skips the endpoint
    # before one trial call.
    llm_breaker_failures: int = Field(default=3, ge=1, le=1000, alias="LLM_BREAKER_FAILURES")
    llm_breaker_reset_seconds: float = Field(
        default=60.0, gt=0, le=86_400, alias="LLM_BREAKER_RESET_SECONDS"
    )

    # --- Jobs ---------------------------------------------------------------------------
    execution_output_cap_bytes: int = Field(
        default=64_000, ge=1024, alias="EXECUTION_OUTPUT_CAP_BYTES"
    )
    execution_allow_shell: bool = Field(default=False, alias="EXECUTION_ALLOW_SHELL")
    execution_env_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["PATH", "LANG", "LC_ALL", "TZ", "HOME"],
        alias="EXECUTION_ENV_ALLOWLIST",
    )
    # Where commands run: `auto` = under bubblewrap wherever it can start, plainly (with a loud
    # start-up line and a one-time note in each chat) where it cannot; `bwrap` = under bubblewrap
    # or not at all (commands are refused while it cannot start); `none` = plainly, on purpose.
    execution_sandbox: Literal["auto", "bwrap", "none"] = Field(
        default="auto", alias="EXECUTION_SANDBOX"
    )
    execution_sandbox_network: bool = Field(default=False, alias="EXECUTION_SANDBOX_NETWORK")
    # The bubblewrap binary; unset = `bwrap` on PATH.
    execution_sandbox_bwrap: str | None = Field(default=None, alias="EXECUTION_SANDBOX_BWRAP")
    # The unprivileged user and group every command runs as when the operator runs as root (in
    # every mode); an operator that is not root runs commands as itself.
    execution_sandbox_uid: int = Field(default=65534, ge=1, alias="EXECUTION_SANDBOX_UID")
    execution_sandbox_gid: int = Field(default=65534, ge=1, alias="EXECUTION_SANDBOX_GID")
    needs_attention_timeout_minutes: int = Field(
        default=24 * 60, ge=1, alias="NEEDS_ATTENTION_TIMEOUT_MINUTES"
    )
    worker_plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="HBO_WORKER_PLUGINS"
    )
    # Research fetches only the public web: loopback, private, link-local, multicast, reserved
    # and unspecified addresses are refused (after every redirect too) unless this is true.
    research_allow_private_networks: bool = Field(
        default=False, alias="RESEARCH_ALLOW_PRIVATE_NETWORKS"
    )
    # Commands an LLM wrote run without asking when argv[0] is on this list and no shell is
    # used (e.g. `df,uptime`). Empty: every LLM-written command waits for a person's Approve.
    execution_auto_approve: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="EXECUTION_AUTO_APPROVE"
    )
    # Hosts (exact names, lower case) a model may send research to without asking: a research
    # URL on one of these runs at once. Empty: every URL a model chose waits for Approve (a URL
    # the person wrote in their own message never waits).
    research_auto_approve_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="RESEARCH_AUTO_APPROVE_HOSTS"
    )
    # A job card goes live (elapsed time, the last lines of output) once its step has run this
    # long, and is edited at most once per interval after that (less often when the chat's
    # budget is short: a result never waits for a card edit).
    live_card_after_seconds: float = Field(default=8, gt=0, alias="LIVE_CARD_AFTER_SECONDS")
    live_card_interval_seconds: float = Field(default=10, ge=1, alias="LIVE_CARD_INTERVAL_SECONDS")
    # A job waiting for approval is cancelled (and the chat told once) after this long.
    approval_timeout_minutes: float = Field(default=60, gt=0, alias="APPROVAL_TIMEOUT_MINUTES")
    # The shortest interval of a recurring job: each run reports to the chat, so a few seconds
    # would flood it.
    schedule_min_interval_seconds: int = Field(
        default=60, ge=1, alias="SCHEDULE_MIN_INTERVAL_SECONDS"
    )

    # --- Heartbeat (names from the source documents) ------------------------------------
    heartbeat_group_targets: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="HEARTBEAT_GROUP_TARGETS"
    )

    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(
        default="text",
        alias="HBO_LOG_FORMAT",
        description="`text`: one readable line per record; `json`: one JSON object per line "
        "(time, level, logger, message, and the job, chat, workflow and activity ids where "
        "known), for log collectors. Secrets are redacted in both.",
    )

    @field_validator("telegram_allowed_user_ids", "telegram_allowed_chat_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[int]:
        return _split_ids(value)

    @field_validator(
        "execution_env_allowlist",
        "worker_plugins",
        "execution_auto_approve",
        "research_auto_approve_hosts",
        mode="before",
    )
    @classmethod
    def _names(cls, value: object) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        return [item.strip() for item in str(value or "").split(",") if item.strip()]

    @field_validator("telegram_bot_token", "openai_api_key", "temporal_api_key", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "temporal_address",
        "openai_base_url",
        "database_url_setting",
        "execution_sandbox_bwrap",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("heartbeat_group_targets", mode="before")
    @classmethod
    def _group_targets(cls, value: object) -> list[str]:
        """`chat_id[:topic_id]`, comma-separated, e.g. `-1001234567890:42,-1009876543210`."""
        items = value if isinstance(value, list | tuple) else str(value or "").split(",")
        targets = [str(item).strip() for item in items if str(item).strip()]
        for item in targets:
            if not re.fullmatch(r"-?\d+(:\d+)?", item):
                raise ValueError(f"heartbeat group target {item!r} is not chat_id[:topic_id]")
        return targets

    @model_validator(mode="after")
    def _base_url(self) -> Settings:
        self.telegram_base_url = self.telegram_base_url.rstrip("/")
        return self

    # --- Derived --------------------------------------------------------------------------
    @property
    def telegram_base_file_url(self) -> str:
        """Where the Bot API serves files: `<server>/file/bot<token>/<path>` beside
        `<server>/bot<token>/<method>`, on Telegram's servers and on a self-hosted one alike."""
        base = self.telegram_base_url
        return f"{base.removesuffix('/bot')}/file/bot" if base.endswith("/bot") else base

    @property
    def console_mode(self) -> bool:
        return self.telegram_bot_token is None

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def workspaces_dir(self) -> Path:
        return self.data_path / "workspaces"

    @property
    def temporal_db_file(self) -> Path:
        return self.data_path / "temporal.db"

    @property
    def database_url(self) -> str:
        if self.database_url_setting:
            return self.database_url_setting
        return f"sqlite+aiosqlite:///{self.data_path / 'operator.db'}"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_dev_port}"

    @property
    def temporal_ui_address(self) -> str | None:
        """Where the Web UI is: TEMPORAL_UI_URL, else the embedded dev server's own UI (only
        when this process's settings start one: no TEMPORAL_ADDRESS), else unknown."""
        if self.temporal_ui_url:
            return self.temporal_ui_url.rstrip("/")
        if self.temporal_address is None and self.temporal_ui_port:
            return f"http://127.0.0.1:{self.temporal_ui_port}"
        return None

    def without_secrets(self) -> dict[str, Any]:
        """Every setting by its env name except the secrets (and the database URL), for a
        process that runs commands; TEMPORAL_API_KEY is the caller's to add if it must."""
        values = self.model_dump(mode="json", by_alias=True)
        for name in SECRET_ENV_NAMES:
            values.pop(name, None)
        values["HBO_DATA_DIR"] = str(self.data_path)
        return values

    def is_allowed_user(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.telegram_allowed_user_ids

    def is_allowed_chat(self, chat_id: int, chat_type: str) -> bool:
        """Private chats are gated by user id only; groups also need their chat allowed."""
        if chat_type == "private":
            return True
        return chat_id in self.telegram_allowed_chat_ids


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]

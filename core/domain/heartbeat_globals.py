"""The global settings a heartbeat's defaults come from, declared once: their types, defaults,
environment names and checks. `core.io.settings.Settings` inherits them and loads them from the
environment; `HeartbeatConfig` takes its defaults from here, so the rules stay free of the loader.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from core.domain.timewindows import parse_quiet_window, validate_timezone


class HeartbeatGlobals(BaseModel):
    openai_model: str = Field(default="gpt-4o-mini", alias="OPENAI_MODEL")
    task_max_run_seconds: int = Field(default=300, ge=1, alias="TASK_MAX_RUN_SECONDS")
    heartbeat_interval_minutes: int = Field(default=15, ge=1, alias="HEARTBEAT_INTERVAL_MINUTES")
    heartbeat_clock_aligned: bool = Field(default=False, alias="HEARTBEAT_CLOCK_ALIGNED")
    heartbeat_default_prompt: str = Field(default="", alias="HEARTBEAT_DEFAULT_PROMPT")
    heartbeat_quiet_hours: str = Field(default="", alias="HEARTBEAT_QUIET_HOURS")
    heartbeat_quiet_interval_minutes: int = Field(
        default=0, ge=0, alias="HEARTBEAT_QUIET_INTERVAL_MINUTES"
    )
    heartbeat_previous_conclusion_chars: int = Field(
        default=500, ge=0, alias="HEARTBEAT_PREVIOUS_CONCLUSION_CHARS"
    )
    heartbeat_repetition_detection: bool = Field(
        default=True, alias="HEARTBEAT_REPETITION_DETECTION"
    )
    heartbeat_repetition_threshold: float = Field(
        default=0.8, ge=0.0, le=1.0, alias="HEARTBEAT_REPETITION_THRESHOLD"
    )
    heartbeat_ack_token: str = Field(default="HEARTBEAT_OK", alias="HEARTBEAT_ACK_TOKEN")
    heartbeat_stale_after_minutes: int = Field(
        default=30, ge=1, alias="HEARTBEAT_STALE_AFTER_MINUTES"
    )
    heartbeat_cooldown_minutes: int = Field(default=5, ge=0, alias="HEARTBEAT_COOLDOWN_MINUTES")
    heartbeat_max_consecutive_failures: int = Field(
        default=3, ge=1, alias="HEARTBEAT_MAX_CONSECUTIVE_FAILURES"
    )
    heartbeat_max_llm_calls: int = Field(default=4, ge=1, alias="HEARTBEAT_MAX_LLM_CALLS")
    heartbeat_max_llm_tokens: int = Field(default=12_000, ge=100, alias="HEARTBEAT_MAX_LLM_TOKENS")
    heartbeat_push_grace_seconds: int = Field(
        default=60, ge=0, alias="HEARTBEAT_PUSH_GRACE_SECONDS"
    )
    timezone: str = Field(default="UTC", alias="TIMEZONE")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("heartbeat_quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        parse_quiet_window(value)
        return value.strip()

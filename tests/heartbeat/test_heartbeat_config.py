"""Global defaults and per-target overrides: field-by-field fallback, the quiet window whole,
and every value validated when it is set (bad input changes nothing)."""

from __future__ import annotations

import pytest

from core.domain.heartbeat.config import (
    HeartbeatOverrides,
    SettingError,
    apply_setting,
    defaults_from_settings,
    remove_setting,
    resolve,
)
from core.io.settings import Settings


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_use_the_seed_environment_names() -> None:
    config = defaults_from_settings(
        settings(
            HEARTBEAT_INTERVAL_MINUTES="30",
            HEARTBEAT_DEFAULT_PROMPT="Check the jobs",
            HEARTBEAT_QUIET_HOURS="23:00-07:00",
            HEARTBEAT_QUIET_INTERVAL_MINUTES="240",
            HEARTBEAT_PREVIOUS_CONCLUSION_CHARS="300",
            HEARTBEAT_REPETITION_DETECTION="false",
            HEARTBEAT_REPETITION_THRESHOLD="0.9",
            TIMEZONE="Europe/Berlin",
        )
    )
    assert config.interval_minutes == 30
    assert config.default_prompt == "Check the jobs"
    assert config.quiet_window == (23 * 60, 7 * 60)
    assert config.quiet_interval_minutes == 240
    assert config.previous_result_max_chars == 300
    assert config.repetition_detection is False and config.repetition_threshold == 0.9
    assert config.timezone == "Europe/Berlin"
    assert config.ack_token == "HEARTBEAT_OK" and config.stale_after_minutes == 30
    assert config.cooldown_minutes == 5 and config.max_consecutive_failures == 3
    assert config.workspace_file_path == "HEARTBEAT.md"


def test_overrides_fall_back_field_by_field() -> None:
    defaults = defaults_from_settings(settings(HEARTBEAT_QUIET_HOURS="23:00-07:00"))
    target = HeartbeatOverrides(prompt="Custom", interval_minutes=60)
    config = resolve(defaults, target)
    assert config.prompt == "Custom" and config.interval_minutes == 60
    assert config.ack_token == defaults.ack_token and config.model == defaults.model
    assert config.quiet_window == (23 * 60, 7 * 60)  # not set on the target: the global one


def test_the_quiet_window_is_taken_whole() -> None:
    defaults = defaults_from_settings(settings(HEARTBEAT_QUIET_HOURS="23:00-07:00"))
    own = resolve(defaults, HeartbeatOverrides(quiet_start="21:00", quiet_end="24:00"))
    assert own.quiet_window == (21 * 60, 24 * 60)
    none = resolve(defaults, HeartbeatOverrides(quiet_start="00:00", quiet_end="00:00"))
    assert none.quiet_window is None  # start == end: this target has no quiet hours


def test_set_parses_and_validates() -> None:
    overrides, key = apply_setting(HeartbeatOverrides(), "interval", "30")
    assert key == "interval_minutes" and overrides.interval_minutes == 30
    overrides, _ = apply_setting(overrides, "quiet_hours", "22:30-06:00")
    assert (overrides.quiet_start, overrides.quiet_end) == ("22:30", "06:00")
    overrides, _ = apply_setting(overrides, "quiet_start", "23:00")  # the other end exists
    assert overrides.quiet_start == "23:00"
    overrides, _ = apply_setting(overrides, "timezone", "Asia/Kolkata")
    overrides, _ = apply_setting(overrides, "dispatch_mode", "Optional")
    assert overrides.dispatch_mode == "optional"
    overrides, _ = apply_setting(overrides, "dispatch_results", "off")
    assert overrides.dispatch_results is False
    overrides, _ = apply_setting(overrides, "workspace_file_path", "none")
    assert overrides.workspace_file_path == ""
    overrides, _ = apply_setting(overrides, "quiet", "off")
    assert (overrides.quiet_start, overrides.quiet_end) == ("00:00", "00:00")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("interval_minutes", "0", "outside"),
        ("interval_minutes", "soon", "whole number"),
        ("quiet_start", "23:00", "both ends"),  # a one-ended window
        ("quiet_end", "7", "HH:MM"),
        ("quiet_hours", "25:00-07:00", "HH:MM"),
        ("quiet_hours", "24:00-07:00", "24:00"),
        ("quiet_hours", "23:00", "23:00-07:00"),
        ("timezone", "Mars/Olympus_Mons", "unknown timezone"),
        ("dispatch_mode", "sometimes", "always, optional"),
        ("repetition_threshold", "1.5", "outside"),
        ("ack_token", "OK GO", "one word"),
        ("workspace_file_path", "../etc/passwd", "inside the chat's workspace"),
        ("workspace_file_path", "/etc/passwd", "inside the chat's workspace"),
        ("workflow_id", "nightly", "no workflow 'nightly'"),
        ("colour", "blue", "unknown setting"),
    ],
)
def test_bad_values_are_refused_with_a_message(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        apply_setting(HeartbeatOverrides(), key, value, known_workflows=["job-digest"])


def test_templates_are_checked_when_known() -> None:
    with pytest.raises(SettingError, match="no prompt template 'x'"):
        apply_setting(HeartbeatOverrides(), "template", "x", known_templates=["daily"])
    overrides, _ = apply_setting(
        HeartbeatOverrides(), "template", "daily", known_templates=["daily"]
    )
    assert overrides.prompt_template_id == "daily"


def test_unset_goes_back_to_the_default_and_keeps_the_window_whole() -> None:
    overrides = HeartbeatOverrides(quiet_start="23:00", quiet_end="07:00", prompt="p")
    cleared, _ = remove_setting(overrides, "quiet_hours")
    assert cleared.quiet_start is None and cleared.quiet_end is None and cleared.prompt == "p"
    with pytest.raises(SettingError, match="both ends"):
        remove_setting(overrides, "quiet_end")
    cleared, key = remove_setting(overrides, "prompt")
    assert key == "prompt" and cleared.prompt is None


def test_budgets_cannot_exceed_the_owners_caps() -> None:
    caps = defaults_from_settings(
        settings(HEARTBEAT_MAX_LLM_CALLS="5", HEARTBEAT_MAX_LLM_TOKENS="8000")
    )
    with pytest.raises(SettingError, match=r"cap of 5 \(HEARTBEAT_MAX_LLM_CALLS\)"):
        apply_setting(HeartbeatOverrides(), "max_llm_calls", "6", caps=caps)
    with pytest.raises(SettingError, match=r"cap of 8000 \(HEARTBEAT_MAX_LLM_TOKENS\)"):
        apply_setting(HeartbeatOverrides(), "max_llm_tokens", "8001", caps=caps)
    at_cap, _ = apply_setting(HeartbeatOverrides(), "max_llm_calls", "5", caps=caps)
    lower, _ = apply_setting(at_cap, "max_llm_tokens", "500", caps=caps)
    assert (lower.max_llm_calls, lower.max_llm_tokens) == (5, 500)


def test_budgets_above_the_caps_are_clamped_when_read() -> None:
    caps = defaults_from_settings(
        settings(HEARTBEAT_MAX_LLM_CALLS="5", HEARTBEAT_MAX_LLM_TOKENS="8000")
    )
    stored = HeartbeatOverrides(max_llm_calls=50, max_llm_tokens=1_000_000)
    config = resolve(caps, stored)
    assert (config.max_llm_calls, config.max_llm_tokens) == (5, 8000)
    below = resolve(caps, HeartbeatOverrides(max_llm_calls=2, max_llm_tokens=300))
    assert (below.max_llm_calls, below.max_llm_tokens) == (2, 300)


def test_rules_are_checked_when_set_never_when_loaded() -> None:
    """A stored row saved under an older rule, and a payload carrying a global value outside the
    per-target range, still load: the range is the rule for a person's `set`, not for data."""
    row = HeartbeatOverrides.model_validate_json(
        '{"interval_minutes": 99999, "quiet_start": "23:00", "quiet_end": "07:00", "gone": 1}'
    )
    assert row.explicit() == {
        "interval_minutes": 99999,
        "quiet_start": "23:00",
        "quiet_end": "07:00",
    }
    with pytest.raises(SettingError, match="outside 1–10080"):
        apply_setting(HeartbeatOverrides(), "interval_minutes", "99999")
    defaults = defaults_from_settings(settings(TASK_MAX_RUN_SECONDS="5"))
    payload = type(defaults).model_validate_json(defaults.model_dump_json())
    assert payload == defaults and payload.max_run_seconds == 5

"""Heartbeat settings: global defaults (the HEARTBEAT_* environment settings) and
per-target overrides.

Rules: a target falls back to the global value field by field, except the quiet
window, which is taken whole (both ends from the target, or the global window). Every value is
validated when it is set — a malformed time, an unknown timezone or a one-ended window is
refused with a message and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.settings import Settings, parse_hhmm, parse_quiet_window, validate_timezone

DispatchMode = Literal["always", "optional"]
SessionMode = Literal["shared", "isolated"]

DEFAULT_WORKSPACE_FILE = "HEARTBEAT.md"
MAX_PROMPT_CHARS = 4000
MAX_INTERVAL_MINUTES = 7 * 24 * 60


class HeartbeatConfig(BaseModel):
    """The effective settings of one target (global defaults with its overrides applied)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    interval_minutes: int = 15
    # True: runs at multiples of the interval from midnight UTC (:00, :15 …); False: at this
    # target's own stable offset inside the interval, so many targets do not all fire at once.
    clock_aligned: bool = False
    prompt: str = ""
    workspace_file_path: str = DEFAULT_WORKSPACE_FILE  # "" = no workspace file
    prompt_template_id: str = ""
    default_prompt: str = ""  # HEARTBEAT_DEFAULT_PROMPT: global only
    dispatch_mode: DispatchMode = "always"
    dispatch_results: bool = True
    trigger_response: bool = False
    model: str = "gpt-4o-mini"
    quiet_window: tuple[int, int] | None = None  # minutes after midnight, in `timezone`
    timezone: str = "UTC"
    quiet_interval_minutes: int = 0
    max_run_seconds: int = 300
    previous_result_max_chars: int = 500
    repetition_detection: bool = True
    repetition_threshold: float = 0.8
    workflow_id: str = ""  # a registered trigger workflow instead of the prompt
    workflow_session_mode: SessionMode = "shared"
    ack_token: str = "HEARTBEAT_OK"
    stale_after_minutes: int = 30
    cooldown_minutes: int = 5
    max_consecutive_failures: int = 3
    max_llm_calls: int = 4
    max_llm_tokens: int = 12_000
    push_grace_seconds: int = 60  # global only: how long a job's own push gets to go first


class HeartbeatOverrides(BaseModel):
    """What one target sets for itself; None = use the global value. Stored as JSON."""

    model_config = ConfigDict(extra="ignore")

    interval_minutes: int | None = None
    clock_aligned: bool | None = None
    prompt: str | None = None
    workspace_file_path: str | None = None
    prompt_template_id: str | None = None
    dispatch_mode: DispatchMode | None = None
    dispatch_results: bool | None = None
    trigger_response: bool | None = None
    model: str | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str | None = None
    quiet_interval_minutes: int | None = None
    max_run_seconds: int | None = None
    previous_result_max_chars: int | None = None
    repetition_detection: bool | None = None
    repetition_threshold: float | None = None
    workflow_id: str | None = None
    workflow_session_mode: SessionMode | None = None
    ack_token: str | None = None
    stale_after_minutes: int | None = None
    cooldown_minutes: int | None = None
    max_consecutive_failures: int | None = None
    max_llm_calls: int | None = None
    max_llm_tokens: int | None = None

    def explicit(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def defaults_from_settings(settings: Settings) -> HeartbeatConfig:
    return HeartbeatConfig(
        interval_minutes=settings.heartbeat_interval_minutes,
        clock_aligned=settings.heartbeat_clock_aligned,
        default_prompt=settings.heartbeat_default_prompt.strip(),
        model=settings.openai_model,
        quiet_window=parse_quiet_window(settings.heartbeat_quiet_hours),
        timezone=settings.timezone,
        quiet_interval_minutes=settings.heartbeat_quiet_interval_minutes,
        max_run_seconds=settings.task_max_run_seconds,
        previous_result_max_chars=settings.heartbeat_previous_conclusion_chars,
        repetition_detection=settings.heartbeat_repetition_detection,
        repetition_threshold=settings.heartbeat_repetition_threshold,
        ack_token=settings.heartbeat_ack_token,
        stale_after_minutes=settings.heartbeat_stale_after_minutes,
        cooldown_minutes=settings.heartbeat_cooldown_minutes,
        max_consecutive_failures=settings.heartbeat_max_consecutive_failures,
        max_llm_calls=settings.heartbeat_max_llm_calls,
        max_llm_tokens=settings.heartbeat_max_llm_tokens,
        push_grace_seconds=settings.heartbeat_push_grace_seconds,
    )


# The owner's budget per run is a ceiling: a target may ask for less, never for more. The global
# value (from the setting named here) is both the default and the cap.
CAPPED = {"max_llm_calls": "HEARTBEAT_MAX_LLM_CALLS", "max_llm_tokens": "HEARTBEAT_MAX_LLM_TOKENS"}


def resolve(
    defaults: HeartbeatConfig, overrides: HeartbeatOverrides, *, enabled: bool = True
) -> HeartbeatConfig:
    """Field-by-field fallback; the quiet window whole (both ends from the target or none).
    Capped values above the owner's cap (a row saved before the cap was lowered) are clamped."""
    values = overrides.explicit()
    for name in CAPPED:
        if name in values:
            values[name] = min(values[name], getattr(defaults, name))
    start, end = values.pop("quiet_start", None), values.pop("quiet_end", None)
    update: dict[str, Any] = {**values, "enabled": enabled}
    if start is not None and end is not None:
        window = (parse_hhmm(start), parse_hhmm(end))
        update["quiet_window"] = None if window[0] == window[1] else window
    return defaults.model_copy(update=update)


# --- setting a value from text (bot command / CLI) -------------------------------------------


class SettingError(ValueError):
    """A value that cannot be set; the message is shown to the person as is."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "on", "yes", "1"):
        return True
    if value in ("false", "off", "no", "0"):
        return False
    raise SettingError(f"{raw!r} is not true/false")


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise SettingError(f"{value} is outside {low}–{high}")
        return value

    return parse


def _threshold(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingError(f"{raw!r} is not a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise SettingError(f"{value} is outside 0.0–1.0")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise SettingError(f"{raw!r} is not one of: {', '.join(options)}")
        return value

    return parse


def _text(limit: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value:
            raise SettingError("the value is empty (use `unset` to go back to the default)")
        if len(value) > limit:
            raise SettingError(f"the value is {len(value)} characters; the limit is {limit}")
        return value

    return parse


def _hhmm(raw: str) -> str:
    try:
        minutes = parse_hhmm(raw)
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _timezone(raw: str) -> str:
    try:
        return validate_timezone(raw.strip())
    except ValueError as exc:
        raise SettingError(str(exc)) from None


def _ack_token(raw: str) -> str:
    value = raw.strip()
    if not (2 <= len(value) <= 64) or not all(ch.isalnum() or ch == "_" for ch in value):
        raise SettingError("the ack token is one word of letters, digits and _ (2–64 characters)")
    return value


def _workspace_path(raw: str) -> str:
    value = raw.strip()
    if value.lower() in ("none", "off", "-"):
        return ""  # no workspace file: the template / inline / default prompt is used
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or len(value) > 200:
        raise SettingError(
            f"{value!r} must be a path inside the chat's workspace, like HEARTBEAT.md"
        )
    return value


def _slug(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 64 or not all(ch.isalnum() or ch in "-_." for ch in value):
        raise SettingError(f"{raw!r} is not a template id (letters, digits, - _ .)")
    return value


@dataclass(frozen=True)
class SettingSpec:
    parse: Callable[[str], Any]
    help: str


SETTINGS: dict[str, SettingSpec] = {
    "interval_minutes": SettingSpec(_int(1, MAX_INTERVAL_MINUTES), "minutes between runs (≥ 1)"),
    "clock_aligned": SettingSpec(
        _bool, "run at :00, :15 … (multiples of the interval) instead of this chat's own minute"
    ),
    "prompt": SettingSpec(_text(MAX_PROMPT_CHARS), "inline prompt"),
    "workspace_file_path": SettingSpec(_workspace_path, "checklist file in the workspace, or none"),
    "prompt_template_id": SettingSpec(_slug, "a saved prompt template"),
    "dispatch_mode": SettingSpec(_choice("always", "optional"), "always | optional"),
    "dispatch_results": SettingSpec(_bool, "post results (false = store only)"),
    "trigger_response": SettingSpec(_bool, "start a follow-up job after a result"),
    "model": SettingSpec(_text(100), "LLM model for this heartbeat"),
    "quiet_start": SettingSpec(_hhmm, "quiet window start HH:MM"),
    "quiet_end": SettingSpec(_hhmm, "quiet window end HH:MM (24:00 allowed)"),
    "timezone": SettingSpec(_timezone, "IANA timezone for quiet hours"),
    "quiet_interval_minutes": SettingSpec(
        _int(0, MAX_INTERVAL_MINUTES), "cadence in quiet hours (0 = no runs)"
    ),
    "max_run_seconds": SettingSpec(_int(10, 3600), "time limit of one run"),
    "previous_result_max_chars": SettingSpec(_int(0, 4000), "previous result shown to the LLM"),
    "repetition_detection": SettingSpec(_bool, "warn the LLM about repeated results"),
    "repetition_threshold": SettingSpec(_threshold, "similarity 0–1 counted as repeated"),
    "workflow_id": SettingSpec(_slug, "a registered workflow to start instead of the prompt"),
    "workflow_session_mode": SettingSpec(_choice("shared", "isolated"), "shared | isolated"),
    "ack_token": SettingSpec(_ack_token, "the 'nothing to report' token"),
    "stale_after_minutes": SettingSpec(_int(1, 7 * 24 * 60), "flag jobs silent this long"),
    "cooldown_minutes": SettingSpec(_int(0, 24 * 60), "skip while the person wrote this recently"),
    "max_consecutive_failures": SettingSpec(_int(1, 100), "failed runs before pausing"),
    "max_llm_calls": SettingSpec(_int(1, 50), "model calls per run"),
    "max_llm_tokens": SettingSpec(_int(100, 1_000_000), "tokens per run"),
}
QUIET_HOURS_KEY = "quiet_hours"  # sets (or unsets) both ends at once
ALIASES = {
    "quiet": QUIET_HOURS_KEY,
    "interval": "interval_minutes",
    "aligned": "clock_aligned",
    "template": "prompt_template_id",
}


def setting_names() -> list[str]:
    return [QUIET_HOURS_KEY, *SETTINGS]


def _canonical(key: str) -> str:
    key = key.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key != QUIET_HOURS_KEY and key not in SETTINGS:
        raise SettingError(f"unknown setting {key!r}; settings: {', '.join(setting_names())}")
    return key


def _check_window(values: dict[str, Any]) -> None:
    start, end = values.get("quiet_start"), values.get("quiet_end")
    if (start is None) != (end is None):
        raise SettingError(
            "a heartbeat's quiet window needs both ends; set them together, for example "
            "quiet_hours 23:00-07:00 (or unset quiet_hours to use the global window)"
        )
    if start is not None and parse_hhmm(start) == 24 * 60:
        raise SettingError("a quiet window cannot start at 24:00")


def apply_setting(
    overrides: HeartbeatOverrides,
    key: str,
    raw: str,
    *,
    known_workflows: Iterable[str] = (),
    known_templates: Iterable[str] | None = None,
    caps: HeartbeatConfig | None = None,
) -> tuple[HeartbeatOverrides, str]:
    """The overrides with `key` set from text, and the canonical key. Raises SettingError.
    With `caps` (the global defaults), a budget above the owner's cap is refused."""
    key = _canonical(key)
    values = overrides.explicit()
    if key == QUIET_HOURS_KEY:
        if raw.strip().lower() in ("off", "none"):
            values["quiet_start"] = values["quiet_end"] = "00:00"  # start == end: no window
        else:
            try:
                window = parse_quiet_window(raw)
            except ValueError as exc:
                raise SettingError(str(exc)) from None
            if window is None:
                raise SettingError("give the window as HH:MM-HH:MM, for example 23:00-07:00")
            values["quiet_start"], values["quiet_end"] = (
                f"{m // 60:02d}:{m % 60:02d}" for m in window
            )
    else:
        value = SETTINGS[key].parse(raw)
        if key == "workflow_id":
            known = sorted(known_workflows)
            if value not in known:
                raise SettingError(
                    f"no workflow {value!r} is registered for heartbeats "
                    f"(registered: {', '.join(known) or 'none'})"
                )
        if key == "prompt_template_id" and known_templates is not None:
            templates = sorted(known_templates)
            if value not in templates:
                raise SettingError(
                    f"no prompt template {value!r} for this chat "
                    f"(available here: {', '.join(templates) or 'none'})"
                )
        if key in CAPPED and caps is not None and value > getattr(caps, key):
            raise SettingError(
                f"{key} {value} is above the owner's cap of {getattr(caps, key)} "
                f"({CAPPED[key]}); choose {getattr(caps, key)} or less."
            )
        values[key] = value
    _check_window(values)
    return HeartbeatOverrides.model_validate(values), key


def remove_setting(overrides: HeartbeatOverrides, key: str) -> tuple[HeartbeatOverrides, str]:
    key = _canonical(key)
    values = overrides.explicit()
    if key == QUIET_HOURS_KEY:
        values.pop("quiet_start", None)
        values.pop("quiet_end", None)
    else:
        values.pop(key, None)
    _check_window(values)
    return HeartbeatOverrides.model_validate(values), key


def format_window(window: tuple[int, int] | None) -> str:
    if window is None:
        return "none"
    start, end = window
    return f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"

"""Heartbeat settings: global defaults (the HEARTBEAT_* environment settings) and
per-target overrides, both from the one declaration of each setting in `HeartbeatConfig`.

A field of `HeartbeatConfig` says everything about its setting: its type, the global setting its
default comes from (`from_global`), and — when a target may set it for itself — a `PerTarget`
marker with the rule a value must meet and its line of help. The overrides model, the table of
settable keys and the defaults read from `Settings` are all derived from it.

Rules: a target falls back to the global value field by field, except the quiet
window, which is taken whole (both ends from the target, or the global window). Every value is
validated when it is set — a malformed time, an unknown timezone or a one-ended window is
refused with a message and nothing changes. A rule is checked only then: a stored override or a
config inside a running workflow is never judged again, so both keep loading when a rule changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic_core import ErrorDetails

from core.domain.heartbeat_globals import HeartbeatGlobals
from core.domain.timewindows import parse_hhmm, parse_quiet_window, validate_timezone

DispatchMode = Literal["always", "optional"]
SessionMode = Literal["shared", "isolated"]

DEFAULT_WORKSPACE_FILE = "HEARTBEAT.md"
MAX_PROMPT_CHARS = 4000
MAX_INTERVAL_MINUTES = 7 * 24 * 60


# --- the rules a value set by a person must meet ----------------------------------------------


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _hhmm(value: str) -> str:
    minutes = parse_hhmm(value)  # ValueError with the message shown
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _workspace_path(value: str) -> str:
    if value.lower() in ("none", "off", "-"):
        return ""  # no workspace file: the template / inline / default prompt is used
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or len(value) > 200:
        raise ValueError(f"{value!r} must be a path inside the chat's workspace, like HEARTBEAT.md")
    return value


def Whole(low: int, high: int) -> Any:
    return Annotated[int, Field(ge=low, le=high)]


def Text(limit: int) -> Any:
    return Annotated[str, StringConstraints(min_length=1, max_length=limit)]


def Choice(options: Any) -> Any:
    return Annotated[options, BeforeValidator(_lower)]


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Slug = Annotated[str, StringConstraints(pattern=r"^[\w.-]{1,64}$")]
Word = Annotated[str, StringConstraints(pattern=r"^\w{2,64}$")]
HHMM = Annotated[str, AfterValidator(_hhmm)]
Timezone = Annotated[str, AfterValidator(validate_timezone)]
WorkspacePath = Annotated[str, AfterValidator(_workspace_path)]


@dataclass(frozen=True)
class PerTarget:
    """Marks a setting a target may set for itself (`/heartbeat set <key> <value>`).

    `rule`: the type a value must meet when set (None: the field's own type); `help`: its line in
    the help; `invalid`: the message when a value does not match the rule's pattern ({raw} is the
    value); `capped`: the global value is also the ceiling (the owner's budget per run)."""

    help: str
    rule: Any = None
    invalid: str = ""
    capped: bool = False


GLOBAL_SOURCE = "global_setting"


def from_global(name: str) -> Any:
    """The field's default: `HeartbeatGlobals.<name>`'s default here, its configured value in
    `defaults_from_settings` — so the global default is written once, in
    core/domain/heartbeat_globals.py (which `Settings` inherits)."""
    return Field(
        default=HeartbeatGlobals.model_fields[name].default, json_schema_extra={GLOBAL_SOURCE: name}
    )


# --- the one declaration of every heartbeat setting ---------------------------------------------


class HeartbeatConfig(BaseModel):
    """The effective settings of one target (global defaults with its overrides applied)."""

    model_config = ConfigDict(frozen=True, validate_default=True)

    enabled: bool = True
    interval_minutes: Annotated[
        int, PerTarget("minutes between runs (≥ 1)", Whole(1, MAX_INTERVAL_MINUTES))
    ] = from_global("heartbeat_interval_minutes")
    # True: runs at multiples of the interval from midnight UTC (:00, :15 …); False: at this
    # target's own stable offset inside the interval, so many targets do not all fire at once.
    clock_aligned: Annotated[
        bool,
        PerTarget(
            "run at :00, :15 … (multiples of the interval) instead of this chat's own minute"
        ),
    ] = from_global("heartbeat_clock_aligned")
    prompt: Annotated[str, PerTarget("inline prompt", Text(MAX_PROMPT_CHARS))] = ""
    workspace_file_path: Annotated[  # "" = no workspace file
        str, PerTarget("checklist file in the workspace, or none", WorkspacePath)
    ] = DEFAULT_WORKSPACE_FILE
    prompt_template_id: Annotated[
        str,
        PerTarget(
            "a saved prompt template", Slug, "{raw!r} is not a template id (letters, digits, - _ .)"
        ),
    ] = ""
    default_prompt: str = from_global("heartbeat_default_prompt")  # global only
    dispatch_mode: Annotated[DispatchMode, PerTarget("always | optional", Choice(DispatchMode))] = (
        "always"
    )
    dispatch_results: Annotated[bool, PerTarget("post results (false = store only)")] = True
    trigger_response: Annotated[bool, PerTarget("start a follow-up job after a result")] = False
    model: Annotated[str, PerTarget("LLM model for this heartbeat", Text(100))] = from_global(
        "openai_model"
    )
    # Minutes after midnight, in `timezone`. A target sets it whole, as quiet_start + quiet_end
    # (`WINDOW_ENDS`), or both at once with the `quiet_hours` key.
    quiet_window: tuple[int, int] | None = from_global("heartbeat_quiet_hours")
    timezone: Annotated[str, PerTarget("IANA timezone for quiet hours", Timezone)] = from_global(
        "timezone"
    )
    quiet_interval_minutes: Annotated[
        int, PerTarget("cadence in quiet hours (0 = no runs)", Whole(0, MAX_INTERVAL_MINUTES))
    ] = from_global("heartbeat_quiet_interval_minutes")
    max_run_seconds: Annotated[int, PerTarget("time limit of one run", Whole(10, 3600))] = (
        from_global("task_max_run_seconds")
    )
    previous_result_max_chars: Annotated[
        int, PerTarget("previous result shown to the LLM", Whole(0, 4000))
    ] = from_global("heartbeat_previous_conclusion_chars")
    repetition_detection: Annotated[bool, PerTarget("warn the LLM about repeated results")] = (
        from_global("heartbeat_repetition_detection")
    )
    repetition_threshold: Annotated[
        float, PerTarget("similarity 0–1 counted as repeated", Fraction)
    ] = from_global("heartbeat_repetition_threshold")
    workflow_id: Annotated[  # a registered trigger workflow instead of the prompt
        str,
        PerTarget(
            "a registered workflow to start instead of the prompt",
            Slug,
            "{raw!r} is not a workflow id (letters, digits, - _ .)",
        ),
    ] = ""
    workflow_session_mode: Annotated[
        SessionMode, PerTarget("shared | isolated", Choice(SessionMode))
    ] = "shared"
    ack_token: Annotated[
        str,
        PerTarget(
            "the 'nothing to report' token",
            Word,
            "the ack token is one word of letters, digits and _ (2–64 characters)",
        ),
    ] = from_global("heartbeat_ack_token")
    stale_after_minutes: Annotated[
        int, PerTarget("flag jobs silent this long", Whole(1, 7 * 24 * 60))
    ] = from_global("heartbeat_stale_after_minutes")
    cooldown_minutes: Annotated[
        int, PerTarget("skip while the person wrote this recently", Whole(0, 24 * 60))
    ] = from_global("heartbeat_cooldown_minutes")
    max_consecutive_failures: Annotated[
        int, PerTarget("failed runs before pausing", Whole(1, 100))
    ] = from_global("heartbeat_max_consecutive_failures")
    max_llm_calls: Annotated[int, PerTarget("model calls per run", Whole(1, 50), capped=True)] = (
        from_global("heartbeat_max_llm_calls")
    )
    max_llm_tokens: Annotated[
        int, PerTarget("tokens per run", Whole(100, 1_000_000), capped=True)
    ] = from_global("heartbeat_max_llm_tokens")
    # Global only: how long a job's own push gets to go first.
    push_grace_seconds: int = from_global("heartbeat_push_grace_seconds")

    @field_validator("quiet_window", mode="before")
    @classmethod
    def _window_from_text(cls, value: object) -> object:
        """HEARTBEAT_QUIET_HOURS (`HH:MM-HH:MM`, empty = none); a payload's pair passes as is."""
        return parse_quiet_window(value) if isinstance(value, str) else value

    @field_validator("default_prompt")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def global_source(name: str) -> str | None:
    """The `Settings` field a HeartbeatConfig field's global value comes from, if any."""
    extra = HeartbeatConfig.model_fields[name].json_schema_extra
    source = extra.get(GLOBAL_SOURCE) if isinstance(extra, dict) else None
    return source if isinstance(source, str) else None


def defaults_from_settings(settings: HeartbeatGlobals) -> HeartbeatConfig:
    """The global defaults: every field declared `from_global`, read from `settings`."""
    return HeartbeatConfig.model_validate(
        {
            name: getattr(settings, source)
            for name in HeartbeatConfig.model_fields
            if (source := global_source(name)) is not None
        }
    )


# --- the settable keys and the overrides model, derived -----------------------------------------


@dataclass(frozen=True)
class Setting:
    """One key of `/heartbeat set`: its marker and the validator of its rule."""

    key: str
    marker: PerTarget
    adapter: TypeAdapter[Any]
    stored_type: Any  # what the overrides model holds (the rule is not re-checked on load)

    @property
    def help(self) -> str:
        return self.marker.help


# The quiet window's two ends: what a target stores for `quiet_window` (taken whole).
WINDOW_ENDS = {
    "quiet_start": PerTarget("quiet window start HH:MM", HHMM),
    "quiet_end": PerTarget("quiet window end HH:MM (24:00 allowed)", HHMM),
}
# Python's \w is str.isalnum() plus "_": ids and the ack token accept what they always have.
_RULES = ConfigDict(regex_engine="python-re")


def _setting(key: str, marker: PerTarget, own_type: Any) -> Setting:
    rule = own_type if marker.rule is None else marker.rule
    return Setting(key, marker, TypeAdapter(rule, config=_RULES), own_type)


def _derive_settings() -> dict[str, Setting]:
    table: dict[str, Setting] = {}
    for name, field in HeartbeatConfig.model_fields.items():
        if name == "quiet_window":
            table |= {key: _setting(key, mark, str) for key, mark in WINDOW_ENDS.items()}
        for mark in field.metadata:
            if isinstance(mark, PerTarget):
                table[name] = _setting(name, mark, field.annotation)
    return table


SETTINGS: dict[str, Setting] = _derive_settings()
CAPPED = [key for key, setting in SETTINGS.items() if setting.marker.capped]


class _Overrides(BaseModel):
    """What one target sets for itself; None = use the global value. Stored as JSON (one key per
    set value, e.g. {"interval_minutes": 30, "quiet_start": "23:00", "quiet_end": "07:00"})."""

    model_config = ConfigDict(extra="ignore")

    def explicit(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    if TYPE_CHECKING:  # the fields are SETTINGS' keys, each Optional

        def __init__(self, **values: Any) -> None: ...
        def __getattr__(self, name: str) -> Any: ...


if TYPE_CHECKING:
    HeartbeatOverrides = _Overrides
else:
    HeartbeatOverrides = create_model(
        "HeartbeatOverrides",
        __base__=_Overrides,
        __module__=__name__,
        **{key: (setting.stored_type | None, None) for key, setting in SETTINGS.items()},
    )


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


def _bounds(setting: Setting) -> tuple[Any, Any]:
    low = high = None
    for item in get_args(setting.marker.rule)[1:]:
        for constraint in getattr(item, "metadata", [item]):
            if isinstance(constraint, Ge):
                low = constraint.ge
            if isinstance(constraint, Le):
                high = constraint.le
    return low, high


def _choices(setting: Setting) -> list[str]:
    return [str(option) for option in get_args(get_args(setting.marker.rule)[0])]


def _message(setting: Setting, error: ErrorDetails, raw: str) -> str:
    """One validation error, in words for the person who typed `raw`."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{raw!r} is not a whole number"
    if kind in ("float_parsing", "float_type"):
        low, high = _bounds(setting)
        return f"{raw!r} is not a number between {low} and {high}"
    if kind == "bool_parsing":
        return f"{raw!r} is not true/false"
    if kind in ("greater_than_equal", "less_than_equal", "finite_number"):
        low, high = _bounds(setting)
        return f"{raw} is outside {low}–{high}"
    if kind == "literal_error":
        return f"{raw!r} is not one of: {', '.join(_choices(setting))}"
    if kind == "string_too_short":
        return "the value is empty (use `unset` to go back to the default)"
    if kind == "string_too_long":
        return f"the value is {len(raw)} characters; the limit is {ctx['max_length']}"
    if kind == "string_pattern_mismatch" and setting.marker.invalid:
        return setting.marker.invalid.format(raw=raw)
    if kind == "value_error":
        return str(ctx["error"])
    return f"{raw!r}: {error['msg']}"


def parse_value(key: str, raw: str) -> Any:
    """`raw` (a person's text) as the value of setting `key`, by its rule. Raises SettingError."""
    setting = SETTINGS[key]
    text = raw.strip()
    try:
        return setting.adapter.validate_python(text)
    except ValidationError as exc:
        raise SettingError(_message(setting, exc.errors()[0], text)) from None


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


def _quiet_hours(raw: str) -> tuple[str, str]:
    if raw.strip().lower() in ("off", "none"):
        return "00:00", "00:00"  # start == end: no window
    try:
        window = parse_quiet_window(raw)
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    if window is None:
        raise SettingError("give the window as HH:MM-HH:MM, for example 23:00-07:00")
    start, end = (f"{m // 60:02d}:{m % 60:02d}" for m in window)
    return start, end


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
        values["quiet_start"], values["quiet_end"] = _quiet_hours(raw)
    else:
        value = parse_value(key, raw)
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
            env = HeartbeatGlobals.model_fields[str(global_source(key))].alias
            raise SettingError(
                f"{key} {value} is above the owner's cap of {getattr(caps, key)} "
                f"({env}); choose {getattr(caps, key)} or less."
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

"""Tools a language model may call: a name, a description, a pydantic model of the arguments and
an async handler that gets the caller's scope and the validated arguments.

The JSON schema the model sees is generated from the arguments model, so what the model is told
and what is checked are one thing. A `Toolset` is what one caller offers (the intake of a person
in a chat, one chat's heartbeat); the scope it is called with decides what the tools can reach.

Whatever goes wrong before a handler runs — an unknown tool, arguments that are not JSON or do not
validate — comes back to the model as an `error: …` text naming the problem, and no handler ran,
so nothing changed. A handler refuses an action by raising one of the toolset's refusal
exceptions (`ToolRefused`, or the project's own `core.domain.errors.Refusal`: no such job, a plan
that
does not parse, a path outside the workspace); the model gets the message. Any other exception
— a KeyError, a TypeError — is a bug and propagates, with its traceback in the log. Text from
outside is returned as `UntrustedText` and reaches the model wrapped as data.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from core.domain.errors import Refusal
from core.domain.untrusted import untrusted_data

ScopeT = TypeVar("ScopeT", contravariant=True)
MAX_RESULT_CHARS = 8000
# Refusals of the domain (planner, job client, schedules, workspace paths): their message is
# written for the person or the model. A model a handler builds from the model's values that
# does not validate (a metadata map too large, say) is answered the same way.
REFUSALS: tuple[type[Exception], ...] = (Refusal,)


class ToolArgs(BaseModel):
    """Arguments of a tool: unknown fields are an error (the model learns the right names)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(ToolArgs):
    pass


class ToolRefused(Exception):
    """A handler's refusal; its message is the model's answer."""


@dataclass(frozen=True)
class ToolResult:
    text: str  # what the model reads as the tool's result
    ok: bool = True
    terminal: bool = False  # the tool's own effect is the answer (see `Tool.terminal`)


@dataclass(frozen=True)
class UntrustedText:
    """A result that carries text from outside (job outputs and errors, files, file names): the
    toolset shortens it, then wraps it as data (`core.domain.untrusted`) so the wrapping stays
    whole."""

    text: str
    source: str


Handler = Callable[[ScopeT, Any], Awaitable[str | UntrustedText]]


@dataclass(frozen=True)
class Tool(Generic[ScopeT]):
    name: str
    description: str
    args: type[ToolArgs]
    handler: Handler[ScopeT]
    # A terminal tool's success is the answer to the person (a job card, a list from Temporal):
    # a caller that stops on terminal results does not ask the model again to paraphrase it.
    terminal: bool = False

    def schema(self) -> dict[str, Any]:
        params = self.args.model_json_schema()
        _drop_titles(params)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }


class Toolset(Generic[ScopeT]):
    """The tools one caller offers, by name."""

    def __init__(
        self, tools: Iterable[Tool[ScopeT]], refusals: tuple[type[Exception], ...] = REFUSALS
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.refusals: tuple[type[Exception], ...] = (ToolRefused, *refusals)

    def __contains__(self, name: str) -> bool:
        return name in self.tools

    def names(self) -> list[str]:
        return list(self.tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    async def call(self, scope: ScopeT, name: str, arguments: str | None) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            return _error(f"no tool named {name!r}; use one of {', '.join(self.tools)}")
        try:
            raw = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            return _error(f"arguments are not valid JSON ({exc.msg})")
        try:
            args = tool.args.model_validate(raw)
        except ValidationError as exc:
            return _error(f"invalid arguments for {name}: {describe_invalid(exc)}")
        try:
            out = await tool.handler(scope, args)
        except ValidationError as exc:
            return _error(f"{name} refused: {describe_invalid(exc)}")
        except self.refusals as exc:
            return _error(str(exc) or type(exc).__name__)
        if isinstance(out, UntrustedText):
            text = untrusted_data(out.text[:MAX_RESULT_CHARS], out.source)
        else:
            text = out[:MAX_RESULT_CHARS]
        return ToolResult(text, terminal=tool.terminal)


def describe_invalid(exc: ValidationError) -> str:
    """Each problem as `field: what is wrong`, without the input (it can be long) or links."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


def _error(message: str) -> ToolResult:
    return ToolResult(f"error: {message[:500]}", ok=False)


def _drop_titles(schema: Any) -> None:
    """pydantic's `title`s repeat the names; the model needs the descriptions."""
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str):  # not a property that is called "title"
            del schema["title"]
        for value in schema.values():
            _drop_titles(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_titles(value)

"""The one tool-calling loop: ask the model, run the tools it calls, hand back their results,
until it answers in words, a round's tools were all terminal (when the caller stops on those),
or the budget is spent — model calls, tokens, tool calls per round, time — with the reason
recorded in `LoopRun.stop_reason`, never silently.

A model that cannot be used raises `LlmUnavailable` out of the loop; the caller decides what
that means (a fallback, a skipped run) and reads what was done so far from the `LoopRun` it
passed in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.io.llm.client import Llm
from core.io.llm.tools import ToolResult, Toolset

log = logging.getLogger(__name__)

ScopeT = TypeVar("ScopeT")


@dataclass(frozen=True)
class Budget:
    max_llm_calls: int
    max_tokens: int | None = None  # prompt + completion, over the whole loop
    completion_max_tokens: int | None = None  # per model call (capped by what is left)
    max_calls_per_round: int | None = None  # tool calls past this get an error, not a run
    max_seconds: float | None = None
    stop_on_terminal: bool = False


@dataclass
class LoopRun:
    llm_calls: int = 0
    tool_calls: int = 0
    tokens: int = 0
    text: str = ""  # the model's latest words (it may talk while calling tools)
    answer: str | None = None  # its final words, when it ended by answering
    stop_reason: str = ""  # "answered", "terminal", or which budget ended the loop
    last_results: list[ToolResult] = field(default_factory=list)  # the last round's results

    @property
    def answered(self) -> bool:
        return self.answer is not None


async def run_tools(
    llm: Llm,
    toolset: Toolset[ScopeT],
    scope: ScopeT,
    messages: list[dict[str, Any]],
    budget: Budget,
    *,
    model: str,
    request: dict[str, Any] | None = None,
    run: LoopRun | None = None,
    on_llm_call: Callable[[LoopRun], None] | None = None,
    label: str = "",
) -> LoopRun:
    """Run the loop on `messages` (appended to). `request`: more parameters for each model
    call (temperature, tool_choice). `on_llm_call`: after each answer (an activity heartbeat)."""
    run = run if run is not None else LoopRun()
    schemas = toolset.schemas()
    try:
        async with asyncio.timeout(budget.max_seconds):
            while not _spent(budget, run):
                response = await llm.complete(
                    model=model,
                    messages=messages,
                    tools=schemas,
                    **(request or {}),
                    **_limits(budget, run),
                )
                run.llm_calls += 1
                run.tokens += _tokens(response, messages)
                if on_llm_call is not None:
                    on_llm_call(run)
                message = response.choices[0].message  # the wrapper checked there is one
                if message.content:
                    run.text = message.content
                # Function calls only: the wrapper checked each has a name and arguments.
                calls: list[Any] = list(message.tool_calls or [])
                if not calls:
                    run.answer, run.stop_reason = message.content or "", "answered"
                    break
                messages.append(_assistant_turn(message.content, calls))
                run.last_results = []
                for index, call in enumerate(calls):
                    result = await _call(toolset, scope, budget, run, index, call, label)
                    run.last_results.append(result)
                    messages.append(
                        {"role": "tool", "tool_call_id": call.id, "content": result.text}
                    )
                if budget.stop_on_terminal and all(r.ok and r.terminal for r in run.last_results):
                    run.stop_reason = "terminal"
                    break
    except TimeoutError:
        run.stop_reason = f"timeout after {budget.max_seconds:g} s"
    return run


def _spent(budget: Budget, run: LoopRun) -> bool:
    """Whether the budget is spent (the reason recorded) before the next model call."""
    if run.llm_calls >= budget.max_llm_calls:
        run.stop_reason = f"budget: {budget.max_llm_calls} model calls"
    elif budget.max_tokens is not None and run.tokens >= budget.max_tokens:
        run.stop_reason = f"budget: {budget.max_tokens} tokens"
    return run.stop_reason.startswith("budget")


def _limits(budget: Budget, run: LoopRun) -> dict[str, Any]:
    if budget.completion_max_tokens is None:
        return {}
    limit = budget.completion_max_tokens
    if budget.max_tokens is not None:  # never ask for more than is left
        limit = min(limit, budget.max_tokens - run.tokens)
    return {"max_tokens": limit}


def _assistant_turn(content: str | None, calls: list[Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": content or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in calls
        ],
    }


async def _call(
    toolset: Toolset[ScopeT],
    scope: ScopeT,
    budget: Budget,
    run: LoopRun,
    index: int,
    call: Any,
    label: str,
) -> ToolResult:
    if budget.max_calls_per_round is not None and index >= budget.max_calls_per_round:
        return ToolResult(f"error: at most {budget.max_calls_per_round} tool calls per turn", False)
    run.tool_calls += 1
    result = await toolset.call(scope, call.function.name, call.function.arguments)
    log.info("%s: tool %s -> %s", label, call.function.name, result.text[:120])
    return result


def _tokens(response: Any, messages: list[dict[str, Any]]) -> int:
    """What the call cost, as the endpoint counted it; a rough count when it does not say."""
    usage = getattr(response, "usage", None)
    total = getattr(usage, "total_tokens", None)
    if isinstance(total, int):
        return total
    return sum(len(str(m.get("content") or "")) for m in messages) // 4

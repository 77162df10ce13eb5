"""The heartbeat agent (`heartbeat.run_agent`): the resolved prompt run through the LLM with the
operator's tools, inside a per-run budget.

The metadata preamble is the system message (built by the workflow); the prompt or checklist is
the user message. The loop ends when the model answers without tool calls, or when the run's
budget (model calls, tokens) or time limit is reached — with the reason recorded, never silently.
A model that cannot be used (unreachable, too slow, garbage, breaker open) ends the activity
with a non-retryable `LLMUnavailable`, which the workflow records as a skipped run; a request
the endpoint refuses (4xx) is an `LLMError`, a failed run.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.jobs import job_detail, list_chat_jobs, start_job_in_chat
from core.heartbeat.models import AgentRequest, AgentResult
from core.heartbeat.target import HeartbeatTarget
from core.jobs.models import Approval, JobState
from core.jobs.planner import PlanError
from core.llm import Llm, LlmUnavailable
from core.untrusted import SYSTEM_RULE, untrusted_data
from core.workspace import WorkspaceError, list_files, read_text, workspace_dir, write_text

# Tools whose results carry text from outside (job outputs and errors, files, notes, pages).
DATA_TOOLS = frozenset({"list_jobs", "get_job", "list_workspace_files", "read_workspace_file"})
MAX_JOBS_PER_RUN = 3
MAX_WRITE_CHARS = 100_000
MAX_TOOL_RESULT_CHARS = 8000
COMPLETION_MAX_TOKENS = 1024


def _fn(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


class AgentTools:
    """The operator's skills, scoped to one target: its chat's jobs and its workspace."""

    def __init__(
        self, deps: HeartbeatDeps, target: HeartbeatTarget, workspace_folder: str, optional: bool
    ) -> None:
        self.deps = deps
        self.target = target
        self.workspace_folder = workspace_folder
        self.optional = optional
        self.posts: list[str] = []
        self.jobs_started: list[str] = []

    def schemas(self) -> list[dict[str, Any]]:
        workers = ", ".join(self.deps.registry.names())
        tools = [
            _fn(
                "list_jobs",
                "List this chat's jobs (newest first), optionally only those in one state.",
                {
                    "state": {"type": "string", "enum": [s.value for s in JobState]},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                },
                [],
            ),
            _fn(
                "get_job",
                "Live status of one of this chat's jobs.",
                {"job_id": {"type": "string"}},
                ["job_id"],
            ),
            _fn(
                "start_job",
                f"Start a background job in this chat on a worker ({workers}); its result comes "
                "to the chat by itself. Use it for anything slow. A job that runs code waits "
                "for a person in the chat to approve it.",
                {"worker": {"type": "string"}, "input": {"type": "string"}},
                ["worker", "input"],
            ),
            _fn("list_workspace_files", "Files in this chat's workspace.", {}, []),
            _fn(
                "read_workspace_file",
                "Read a file from this chat's workspace.",
                {"path": {"type": "string"}},
                ["path"],
            ),
            _fn(
                "write_workspace_file",
                "Write a file in this chat's workspace (e.g. notes, or update HEARTBEAT.md).",
                {"path": {"type": "string"}, "content": {"type": "string"}},
                ["path", "content"],
            ),
        ]
        if self.optional:
            tools.append(
                _fn(
                    "post_heartbeat_to_channel",
                    "Post a message to this chat. Call it only when something deserves the "
                    "person's attention; otherwise do not call it.",
                    {"message": {"type": "string"}},
                    ["message"],
                )
            )
        return tools

    async def call(self, name: str, raw_arguments: str) -> str:
        try:
            args = json.loads(raw_arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
            result = await self._dispatch(name, args)
        except (ValueError, KeyError, TypeError, WorkspaceError, PlanError, LookupError) as exc:
            result = {"error": str(exc)[:500]}
        text = json.dumps(result, default=str)[:MAX_TOOL_RESULT_CHARS]
        if name in DATA_TOOLS and "error" not in result:
            # Job outputs, errors and workspace files come from outside: data, never orders.
            return untrusted_data(text, f"the {name} tool")
        return text

    async def _dispatch(self, name: str, args: dict[str, Any]) -> Any:
        client = self.deps.client
        if name == "list_jobs":
            limit = max(1, min(int(args.get("limit", 20)), 50))
            return await list_chat_jobs(client, self.target, args.get("state") or None, limit)
        if name == "get_job":
            return await job_detail(client, self.target, str(args["job_id"]).strip())
        if name == "start_job":
            if len(self.jobs_started) >= MAX_JOBS_PER_RUN:
                return {"error": f"at most {MAX_JOBS_PER_RUN} jobs per heartbeat run"}
            spec = await start_job_in_chat(
                self.deps, self.target, str(args["worker"]).strip(), str(args["input"])
            )
            self.jobs_started.append(spec.job_id)
            if spec.approval is Approval.required:
                return {
                    "proposed": spec.job_id,
                    "status": "awaiting_approval: a person in the chat must approve it before "
                    "anything runs; nothing has run",
                }
            return {"started": spec.job_id}
        base = workspace_dir(self.deps.settings.workspaces_dir, self.workspace_folder)
        if name == "list_workspace_files":
            return {"files": list_files(base)}
        if name == "read_workspace_file":
            return {"content": read_text(base, str(args["path"]), max_bytes=20_000)}
        if name == "write_workspace_file":
            content = str(args["content"])
            if len(content) > MAX_WRITE_CHARS:
                return {"error": f"content is over {MAX_WRITE_CHARS} characters"}
            write_text(base, str(args["path"]), content)
            return {"written": str(args["path"]), "chars": len(content)}
        if name == "post_heartbeat_to_channel" and self.optional:
            message = str(args["message"]).strip()
            if not message:
                return {"error": "empty message"}
            self.posts.append(message[:4000])
            return {"queued": True}
        return {"error": f"unknown tool {name!r}"}


class AgentActivities:
    def __init__(self, deps: HeartbeatDeps) -> None:
        self.deps = deps

    @activity.defn(name="heartbeat.run_agent")
    async def run_agent(self, request: AgentRequest) -> AgentResult:
        llm = self.deps.llm_client()
        if llm is None:
            raise ApplicationError("no LLM is configured", type="NoLLM", non_retryable=True)
        config = request.config
        tools = AgentTools(
            self.deps, request.target, request.workspace_folder, config.dispatch_mode == "optional"
        )
        result = AgentResult()
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"{request.preamble}\n\n{SYSTEM_RULE}"},
            {"role": "user", "content": request.prompt},
        ]
        timeout = self.deps.settings.llm_job_timeout_seconds
        model = Llm(
            llm.with_options(timeout=timeout, max_retries=0), self.deps.settings, timeout=timeout
        )
        try:
            async with asyncio.timeout(config.max_run_seconds):
                await self._loop(model, config, tools, messages, result)
        except TimeoutError:
            result.stop_reason = f"timeout after {config.max_run_seconds} s"
        result.posts = tools.posts
        result.jobs_started = tools.jobs_started
        return result

    async def _loop(
        self,
        llm: Llm,
        config: Any,
        tools: AgentTools,
        messages: list[dict[str, Any]],
        result: AgentResult,
    ) -> None:
        schemas = tools.schemas()
        while True:
            if result.llm_calls >= config.max_llm_calls:
                result.stop_reason = f"budget: {config.max_llm_calls} model calls"
                return
            if result.tokens >= config.max_llm_tokens:
                result.stop_reason = f"budget: {config.max_llm_tokens} tokens"
                return
            try:
                response = await llm.complete(
                    model=config.model,
                    messages=messages,
                    tools=schemas,
                    max_tokens=min(COMPLETION_MAX_TOKENS, config.max_llm_tokens - result.tokens),
                )
            except LlmUnavailable as exc:
                status = exc.status
                if status is not None and 400 <= status < 500 and status not in (408, 429):
                    # The endpoint refused this request (model name, key, size): a failed run.
                    raise ApplicationError(
                        f"LLM error {status}", type="LLMError", non_retryable=True
                    ) from None
                # An outage (unreachable, too slow, garbage, breaker open): the workflow records
                # a skipped run; the next scheduled run tries again.
                raise ApplicationError(
                    f"the language model is unavailable ({exc})",
                    type="LLMUnavailable",
                    non_retryable=True,
                ) from None
            result.llm_calls += 1
            usage = response.usage
            result.tokens += (
                usage.total_tokens
                if usage is not None
                else sum(len(str(m.get("content") or "")) for m in messages) // 4
            )
            activity.heartbeat(result.llm_calls)
            message = response.choices[0].message if response.choices else None
            if message is None:
                return
            if message.content:
                result.text = message.content
            if not message.tool_calls:
                return
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                function = getattr(call, "function", None)
                if function is None:
                    continue
                result.tool_calls += 1
                output = await tools.call(function.name, function.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": output})

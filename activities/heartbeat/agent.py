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

import json
from typing import Any

from pydantic import Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat.deps import HeartbeatDeps
from activities.heartbeat.jobs import job_detail, list_chat_jobs, start_job_in_chat
from core.domain.heartbeat.models import AgentRequest, AgentResult
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.models import Approval, JobState
from core.domain.untrusted import SYSTEM_RULE
from core.io.jobs.client import JobClient
from core.io.llm.chat_tools import (
    GET_JOB,
    LIST_JOBS,
    LIST_WORKSPACE_FILES,
    READ_WORKSPACE_FILE,
    WRITE_WORKSPACE_FILE,
    ChatScope,
    ListJobsArgs,
)
from core.io.llm.client import LlmUnavailable
from core.io.llm.loop import Budget, run_tools
from core.io.llm.tools import Tool, ToolArgs, ToolRefused, Toolset

MAX_JOBS_PER_RUN = 3
MAX_LISTED_JOBS = 20
MAX_POST_CHARS = 4000
COMPLETION_MAX_TOKENS = 1024
# The job list's statuses as the heartbeat's job states ("any": no filter).
LISTED_STATES = {
    "running": JobState.running,
    "failed": JobState.failed,
    "completed": JobState.completed,
    "needs_attention": JobState.needs_attention,
}


class HeartbeatScope(ChatScope):
    """One target's heartbeat run: its chat's jobs (only the chat's: `owns`), the target's
    workspace folder, and what the run started and chose to post."""

    def __init__(self, deps: HeartbeatDeps, target: HeartbeatTarget, workspace_folder: str) -> None:
        super().__init__(
            target.chat_id,
            JobClient(deps.client, deps.registry),
            deps.settings.workspaces_dir,
            workspace_folder,
        )
        self.deps = deps
        self.target = target
        self.posts: list[str] = []
        self.jobs_started: list[str] = []

    async def show_jobs(self, args: ListJobsArgs) -> str:
        state = LISTED_STATES.get(args.status)
        closed = ""
        if state is not None and state.is_final:
            closed = args.closed_clause(self.deps.settings.timezone)
        jobs = await list_chat_jobs(
            self.deps.client,
            self.target,
            state.value if state else None,
            MAX_LISTED_JOBS,
            closed,
        )
        return json.dumps(jobs, default=str)

    async def show_job(self, job_id: str) -> str:
        return json.dumps(await job_detail(self.deps.client, self.target, job_id), default=str)


class StartJobArgs(ToolArgs):
    worker: str = Field(min_length=2, max_length=64, description="the worker's name")
    input: str = Field(
        min_length=1,
        max_length=8000,
        description="the worker's input: for execution the exact command line to run; for "
        "research the question",
    )


class PostArgs(ToolArgs):
    message: str = Field(min_length=1, description="what the chat should read")


async def start_job(scope: HeartbeatScope, args: StartJobArgs) -> str:
    if len(scope.jobs_started) >= MAX_JOBS_PER_RUN:
        raise ToolRefused(f"at most {MAX_JOBS_PER_RUN} jobs per heartbeat run")
    spec = await start_job_in_chat(scope.deps, scope.target, args.worker, args.input)
    scope.jobs_started.append(spec.job_id)
    if spec.approval is Approval.required:
        return json.dumps(
            {
                "proposed": spec.job_id,
                "status": "awaiting_approval: a person in the chat must approve it before "
                "anything runs; nothing has run",
            }
        )
    return json.dumps({"started": spec.job_id})


async def post_heartbeat_to_channel(scope: HeartbeatScope, args: PostArgs) -> str:
    scope.posts.append(args.message[:MAX_POST_CHARS])
    return "queued"


def agent_toolset(deps: HeartbeatDeps, optional: bool) -> Toolset[HeartbeatScope]:
    """The chat tools every caller has, the heartbeat's own start_job, and — when the target
    posts only what the agent chooses — the post tool."""
    workers = ", ".join(deps.registry.names())
    tools: list[Tool[HeartbeatScope]] = [
        LIST_JOBS,
        GET_JOB,
        Tool(
            "start_job",
            f"Start a background job in this chat on a worker ({workers}); its result comes "
            "to the chat by itself. Use it for anything slow. A job that runs code waits "
            "for a person in the chat to approve it.",
            StartJobArgs,
            start_job,
        ),
        LIST_WORKSPACE_FILES,
        READ_WORKSPACE_FILE,
        WRITE_WORKSPACE_FILE,
    ]
    if optional:
        tools.append(
            Tool(
                "post_heartbeat_to_channel",
                "Post a message to this chat. Call it only when something deserves the "
                "person's attention; otherwise do not call it.",
                PostArgs,
                post_heartbeat_to_channel,
            )
        )
    return Toolset(tools)


class AgentActivities:
    def __init__(self, deps: HeartbeatDeps) -> None:
        self.deps = deps

    @activity.defn(name="heartbeat.run_agent")
    async def run_agent(self, request: AgentRequest) -> AgentResult:
        llm = self.deps.llm_for()
        if llm is None:
            raise ApplicationError("no LLM is configured", type="NoLLM", non_retryable=True)
        config = request.config
        scope = HeartbeatScope(self.deps, request.target, request.workspace_folder)
        toolset = agent_toolset(self.deps, config.dispatch_mode == "optional")
        budget = Budget(
            max_llm_calls=config.max_llm_calls,
            max_tokens=config.max_llm_tokens,
            completion_max_tokens=COMPLETION_MAX_TOKENS,
            max_seconds=config.max_run_seconds,
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"{request.preamble}\n\n{SYSTEM_RULE}"},
            {"role": "user", "content": request.prompt},
        ]
        try:
            run = await run_tools(
                llm,
                toolset,
                scope,
                messages,
                budget,
                model=config.model,
                on_llm_call=lambda run: activity.heartbeat(run.llm_calls),
                label=f"heartbeat {request.target.chat_id}",
            )
        except LlmUnavailable as exc:
            raise unavailable(exc) from None
        return AgentResult(
            text=run.text,
            llm_calls=run.llm_calls,
            tool_calls=run.tool_calls,
            tokens=run.tokens,
            stop_reason="done" if run.stop_reason == "answered" else run.stop_reason,
            posts=scope.posts,
            jobs_started=scope.jobs_started,
        )


def unavailable(exc: LlmUnavailable) -> ApplicationError:
    status = exc.status
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        # The endpoint refused this request (model name, key, size): a failed run.
        return ApplicationError(f"LLM error {status}", type="LLMError", non_retryable=True)
    # An outage (unreachable, too slow, garbage, breaker open): the workflow records a skipped
    # run; the next scheduled run tries again.
    return ApplicationError(
        f"the language model is unavailable ({exc})", type="LLMUnavailable", non_retryable=True
    )

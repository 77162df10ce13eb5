"""The tools every caller offers its model, defined once: list this chat's jobs, get one of its
jobs, list / read / write files in the chat's workspace (or in one of its jobs' workspaces).

They are called with a `ChatScope`: one chat, as one caller may reach it. The scope decides whose
jobs count as the chat's (`owns`) and how a job list or a job is shown (the intake answers the
person with the chat's own cards; the heartbeat agent reads a compact list); everything else —
the arguments and their schema, which job a call may reach, which folder a path resolves in,
size limits, what is wrapped as untrusted data — is here, the same for every caller.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field
from temporalio.client import WorkflowExecutionDescription

from core.domain.errors import Refusal
from core.domain.ids import normalize_job_id, workspace_name
from core.domain.jobs.queries import parse_window
from core.domain.render import truncate_utf16
from core.domain.temporal_names import SA_REPORT_CHAT_ID
from core.io.jobs.client import JobClient, JobNotFoundError, no_job_in_chat
from core.io.llm.tools import Tool, ToolArgs, UntrustedText
from core.io.workspace import Workspace

MAX_FILE_CHARS = 6000  # what the model reads of a file (the result, wrapped, stays under 8000)
MAX_WRITE_CHARS = 100_000
MAX_LISTED_FILES = 200


class JobRef(ToolArgs):
    job_id: str = Field(
        description="a job id (job-…) or recurring job id (jobsched-…) from the conversation "
        "or from list_jobs; never invent one",
        min_length=5,
        max_length=120,
    )


class ListJobsArgs(ToolArgs):
    status: Literal["running", "failed", "completed", "needs_attention", "any"] = "any"
    period: Literal["today", "yesterday", "week"] = Field(
        default="today", description="for failed/completed: when they ended"
    )

    def closed_clause(self, timezone: str, now: datetime | None = None) -> str:
        """The period as a visibility clause on CloseTime, as the chat's /failed and /done
        count it."""
        return parse_window(self.period, timezone, now).clause()


class WorkspaceArgs(ToolArgs):
    job_id: str | None = Field(
        default=None,
        description="a job id (job-…) for that job's workspace; leave out for the chat's own",
        min_length=5,
        max_length=120,
    )


class ReadFileArgs(WorkspaceArgs):
    path: str = Field(min_length=1, max_length=300, description="a path inside the workspace")


class WriteFileArgs(ReadFileArgs):
    content: str = Field(max_length=MAX_WRITE_CHARS)


class ChatScope(ABC):
    """One chat as a caller's model may reach it: its jobs in Temporal and its workspace
    folder (`chat_folder`, under `workspaces`); job workspaces are in the folder of the chat
    the job reports to."""

    def __init__(self, chat_id: int, jobs: JobClient, workspaces: Path, chat_folder: str) -> None:
        self.chat_id = chat_id
        self.jobs = jobs
        self.workspaces = workspaces
        self.chat_folder = chat_folder

    def owns(self, job_chat: int | None) -> bool:
        """Whether a job reporting to `job_chat` is this scope's to see and act on."""
        return job_chat == self.chat_id

    @abstractmethod
    async def show_jobs(self, args: ListJobsArgs) -> str:
        """The chat's jobs that match, as text for the model."""

    @abstractmethod
    async def show_job(self, job_id: str) -> str:
        """One of the chat's jobs (already checked to be the chat's), as text for the model."""

    async def show_schedule(self, schedule_id: str) -> str:
        """A recurring job of the chat; a scope without recurring jobs has none."""
        raise Refusal(f"no recurring job {schedule_id} in this chat")

    async def file_written(self, where: str, path: str, chars: int) -> None:  # noqa: B027
        """After a write (an audit entry, a line in the chat); nothing by default."""

    async def owned_job(self, job_id: str) -> tuple[str, WorkflowExecutionDescription]:
        job_id = normalize_job_id(job_id)
        try:
            desc = await self.jobs.describe(job_id)
        except JobNotFoundError:
            raise no_job_in_chat(job_id) from None
        if not self.owns(desc.typed_search_attributes.get(SA_REPORT_CHAT_ID)):
            raise no_job_in_chat(job_id)
        return job_id, desc

    async def workspace(self, job_id: str | None) -> tuple[Workspace, str]:
        """(folder held open, what to call it): the chat's workspace, or the workspace of one
        of its jobs. The caller closes the folder."""
        if job_id is None:
            return Workspace.open(self.workspaces, self.chat_folder), "this chat's workspace"
        job_id, desc = await self.owned_job(job_id)
        chat = desc.typed_search_attributes.get(SA_REPORT_CHAT_ID) or self.chat_id
        return Workspace.open(self.workspaces, workspace_name(chat, job_id)), job_id


def is_schedule_id(job_id: str) -> bool:
    return job_id.strip().lower().startswith("jobsched-")


async def list_jobs(scope: ChatScope, args: ListJobsArgs) -> UntrustedText:
    # Goals, outputs and errors in a job list come from outside: data, never orders.
    return UntrustedText(await scope.show_jobs(args), "the chat's job list")


async def get_job(scope: ChatScope, args: JobRef) -> str | UntrustedText:
    if is_schedule_id(args.job_id):
        return await scope.show_schedule(args.job_id)
    job_id, _ = await scope.owned_job(args.job_id)
    return UntrustedText(await scope.show_job(job_id), f"job {job_id}")


async def list_workspace_files(scope: ChatScope, args: WorkspaceArgs) -> UntrustedText:
    folder, where = await scope.workspace(args.job_id)
    with folder:
        files = folder.list_files(limit=MAX_LISTED_FILES)
    return UntrustedText("\n".join(files) or "(no files)", f"the files of {where}")


async def read_workspace_file(scope: ChatScope, args: ReadFileArgs) -> UntrustedText:
    folder, where = await scope.workspace(args.job_id)
    with folder:
        text = folder.read_text(args.path, max_bytes=MAX_FILE_CHARS * 4)
    return UntrustedText(truncate_utf16(text, MAX_FILE_CHARS), f"file {args.path} of {where}")


async def write_workspace_file(scope: ChatScope, args: WriteFileArgs) -> str:
    folder, where = await scope.workspace(args.job_id)
    with folder:  # refuses a path out of the workspace or through a link
        folder.write_text(args.path, args.content)
    await scope.file_written(where, args.path, len(args.content))
    return f"wrote {args.path} ({len(args.content)} characters) in {where}"


LIST_JOBS = Tool[ChatScope](
    "list_jobs",
    "This chat's jobs by status, from Temporal.",
    ListJobsArgs,
    list_jobs,
    terminal=True,
)
GET_JOB = Tool[ChatScope](
    "get_job",
    "One job's live status (or a recurring job's schedule).",
    JobRef,
    get_job,
    terminal=True,
)
LIST_WORKSPACE_FILES = Tool[ChatScope](
    "list_workspace_files",
    "Files in this chat's workspace, or in one job's workspace.",
    WorkspaceArgs,
    list_workspace_files,
)
READ_WORKSPACE_FILE = Tool[ChatScope](
    "read_workspace_file",
    "Read a file from this chat's workspace, or from one job's workspace.",
    ReadFileArgs,
    read_workspace_file,
)
WRITE_WORKSPACE_FILE = Tool[ChatScope](
    "write_workspace_file",
    "Write a file into this chat's workspace (notes, HEARTBEAT.md), or into one job's workspace.",
    WriteFileArgs,
    write_workspace_file,
    terminal=True,
)

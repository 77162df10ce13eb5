"""`/heartbeat infer`: the LLM proposes a checklist from the chat's recent jobs and workspace
files; it is stored until the person accepts it (nothing changes before that)."""

from __future__ import annotations

import logging

from temporalio.client import Client

from bot.heartbeat.rows import require_row
from core.domain.heartbeat.config import apply_setting
from core.domain.heartbeat.prompt import checklist_items
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.jobs.queries import chat_jobs_query
from core.domain.render import esc, truncate_utf16
from core.io.heartbeat.defaults import default_checklist_template
from core.io.heartbeat.schedules import HeartbeatSchedules
from core.io.heartbeat.store import overrides_of
from core.io.jobs.client import list_jobs
from core.io.llm.client import LlmUnavailable, llm_for
from core.io.settings import Settings
from core.io.workspace import Workspace, WorkspaceError

log = logging.getLogger(__name__)

INFER_SYSTEM = (
    "You write heartbeat checklists for a chat operator that runs background jobs. A heartbeat "
    "runs the checklist every few minutes and tells the person only when something needs "
    "attention. From the chat's recent jobs and workspace files, propose 3–6 short, concrete "
    "checklist items as Markdown bullets ('- ...'). Output only the bullets."
)


class HeartbeatInference:
    def __init__(self, settings: Settings, client: Client, schedules: HeartbeatSchedules) -> None:
        self.settings = settings
        self.client = client
        self.schedules = schedules
        self.store = schedules.store

    async def infer(self, target: HeartbeatTarget) -> tuple[str, bool]:
        """A proposed checklist (stored until accepted), and whether there is one."""
        llm = llm_for(self.settings, interactive=True)
        if llm is None:
            return (
                "⚠️ Inferring a heartbeat prompt needs an LLM (set OPENAI_API_KEY). You can "
                "write the checklist yourself in HEARTBEAT.md or with /heartbeat set prompt …",
                False,
            )
        row, _ = await self.schedules.ensure(target, source="command")
        context = await self._infer_context(target)
        try:
            proposal = await llm.ask(
                self.schedules.config(row).model, INFER_SYSTEM, context, max_tokens=600
            )
        except LlmUnavailable as exc:
            log.warning("heartbeat infer for chat %s: %s", target.chat_id, exc)
            return (
                "⚠️ The language model is not answering right now, so no checklist was "
                "proposed. Nothing changed; try again later, or write the checklist yourself "
                "in HEARTBEAT.md or with /heartbeat set prompt …",
                False,
            )
        if not checklist_items(proposal):
            return "⚠️ The LLM did not propose a usable checklist. Nothing changed.", False
        await self.store.set_proposed_prompt(target, proposal[:4000])
        return (
            "🫀 Proposed heartbeat checklist:\n"
            f"<pre>{esc(truncate_utf16(proposal, 3000))}</pre>\n"
            "Use it with /heartbeat infer accept (nothing changes until you do).",
            True,
        )

    async def _infer_context(self, target: HeartbeatTarget) -> str:
        recent = await list_jobs(self.client, chat_jobs_query(target.chat_id), limit=20)
        jobs = [f"- {job.job_id}: {job.goal[:200]}" for job in recent]
        files: list[str] = []
        try:
            with Workspace.open(self.settings.workspaces_dir, target.workspace_folder) as folder:
                files = folder.list_files(limit=50)
        except (WorkspaceError, OSError):
            pass
        return (
            "Recent jobs:\n"
            + ("\n".join(jobs) or "(none)")
            + "\n\nWorkspace files:\n"
            + ("\n".join(f"- {f}" for f in files) or "(none)")
        )

    async def accept_inferred(self, target: HeartbeatTarget) -> str:
        row = await require_row(self.store, target)
        proposal = row.proposed_prompt
        if not proposal:
            return "Nothing to accept: ask for a proposal with /heartbeat infer first."
        config = self.schedules.config(row)
        if config.workspace_file_path:
            header = default_checklist_template().split("## Items", 1)[0]
            # A refusal (the file's name taken by a link or a folder) keeps the proposal.
            with Workspace.open(self.settings.workspaces_dir, target.workspace_folder) as folder:
                folder.write_text(config.workspace_file_path, f"{header}## Items\n\n{proposal}\n")
            await self.store.set_proposed_prompt(target, None)
            return (
                f"✅ Saved as the checklist in {esc(config.workspace_file_path)}; "
                "the next run uses it."
            )
        await self.store.set_proposed_prompt(target, None)
        overrides, _ = apply_setting(overrides_of(row), "prompt", proposal)
        await self.store.set_overrides(target, overrides)
        return "✅ Saved as this heartbeat's prompt; the next run uses it."

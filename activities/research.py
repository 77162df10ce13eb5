"""Research worker: gathers what the goal names (workspace files, http/https URLs), drafts
structured notes (with the LLM when configured), and writes `notes.md` + `notes.json`.

Without an LLM it still writes honest notes: what it read, what it could not read, and what a
person (or an LLM) would still have to do.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from typing import Any

import httpx
from pydantic import BaseModel, Field
from temporalio import activity

from activities.research_fetch import (
    AddressGuard,
    Fetched,
    RefusedURL,
    UnresolvedHost,
    fetch_public,
    research_client,
)
from activities.step_progress import ticking
from core.domain.jobs.models import StepInput, StepOutput
from core.domain.registry import WorkerDefinition
from core.domain.temporal_names import RESEARCH_QUEUE
from core.domain.untrusted import SYSTEM_RULE, untrusted_data
from core.domain.urls import URL_RE, find_urls
from core.io.llm.client import LlmUnavailable, llm_for
from core.io.settings import Settings
from core.io.workspace import Workspace, WorkspaceError

PATH_RE = re.compile(r"(?<![\w/])((?:[\w.-]+/)*[\w-]+\.[A-Za-z0-9]{1,8})\b")
MAX_URL_BYTES = 200_000
URL_TIMEOUT_SECONDS = 10.0
URL_DEADLINE_SECONDS = 30.0  # one URL, all its redirects included
MAX_SOURCES = 10


class Source(BaseModel):
    kind: str  # "file" | "url"
    ref: str
    ok: bool
    detail: str = ""
    excerpt: str = ""


class ResearchNotes(BaseModel):
    goal: str
    sources: list[Source] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    method: str = "deterministic"


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _decode(fetched: Fetched) -> str:
    try:
        text = fetched.body.decode(fetched.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = fetched.body.decode("utf-8", errors="replace")
    if "html" in fetched.content_type:
        title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
        text = (f"{_strip_html(title.group(1))} — " if title else "") + _strip_html(text)
    return text


async def fetch_url(client: httpx.AsyncClient, url: str, guard: AddressGuard) -> Source:
    """One URL as a source. Never raises: a refused, malformed or unreachable URL becomes a
    failed source whose detail says why, and the rest of the research goes on."""
    try:
        async with asyncio.timeout(URL_DEADLINE_SECONDS):
            fetched = await fetch_public(client, guard, url, max_bytes=MAX_URL_BYTES)
    except RefusedURL as exc:
        return Source(kind="url", ref=url, ok=False, detail=f"refused: {exc}")
    except UnresolvedHost as exc:
        return Source(kind="url", ref=url, ok=False, detail=f"could not fetch: {exc}")
    except httpx.InvalidURL as exc:
        return Source(kind="url", ref=url, ok=False, detail=f"not fetched: invalid URL ({exc})")
    except (UnicodeError, ValueError, OverflowError) as exc:
        return Source(
            kind="url", ref=url, ok=False, detail=f"not fetched: invalid URL ({type(exc).__name__})"
        )
    except TimeoutError:
        return Source(
            kind="url",
            ref=url,
            ok=False,
            detail=f"could not fetch: no answer within {URL_DEADLINE_SECONDS:g} s",
        )
    except httpx.HTTPError as exc:
        return Source(
            kind="url", ref=url, ok=False, detail=f"could not fetch: {type(exc).__name__}"
        )
    except Exception as exc:
        # activity.logger adds the job's workflow id to the record
        activity.logger.exception("research: fetching %s failed unexpectedly", url)
        return Source(
            kind="url", ref=url, ok=False, detail=f"could not fetch: {type(exc).__name__}"
        )
    via = f" (redirected to {fetched.url})" if fetched.redirects else ""
    if fetched.status >= 400:
        return Source(kind="url", ref=url, ok=False, detail=f"HTTP {fetched.status}{via}")
    return Source(
        kind="url",
        ref=url,
        ok=True,
        detail=f"HTTP {fetched.status}, {len(fetched.body)} bytes"
        + (" (truncated)" if fetched.truncated else "")
        + via,
        excerpt=_decode(fetched)[:1500],
    )


def read_file_source(workspace: Workspace, ref: str) -> Source:
    try:
        text = workspace.read_text(ref, max_bytes=MAX_URL_BYTES)
    except WorkspaceError as exc:
        return Source(kind="file", ref=ref, ok=False, detail=str(exc))
    return Source(
        kind="file", ref=ref, ok=True, detail=f"{len(text)} characters", excerpt=text[:1500]
    )


def deterministic_notes(goal: str, sources: list[Source]) -> ResearchNotes:
    notes = ResearchNotes(goal=goal, sources=sources)
    for source in sources:
        if source.ok:
            first = source.excerpt.strip().splitlines()[0][:200] if source.excerpt.strip() else ""
            notes.findings.append(f"{source.kind} {source.ref}: {source.detail}. Starts: {first!r}")
        else:
            notes.open_questions.append(
                f"Could not read {source.kind} {source.ref}: {source.detail}"
            )
    if not sources:
        notes.open_questions.append(
            "The goal names no workspace file or URL, and no LLM is configured: nothing was "
            "gathered. Name a file or a URL, or configure OPENAI_API_KEY for open-ended research."
        )
    notes.open_questions.append(
        "No LLM is configured, so no analysis or synthesis was done beyond collecting sources."
    )
    return notes


async def llm_notes(settings: Settings, goal: str, sources: list[Source]) -> ResearchNotes | None:
    llm = llm_for(settings, interactive=False)
    if llm is None:
        return None
    material = (
        "\n\n".join(f"[{s.kind} {s.ref}] {s.detail}\n{s.excerpt}" for s in sources if s.ok)
        or "(no sources could be read)"
    )
    try:
        content = await llm.ask(
            settings.openai_model,
            "You are a research worker. Reply with JSON only: "
            '{"findings": [str], "open_questions": [str]}. Be concise and factual; '
            f"never invent sources. {SYSTEM_RULE}",
            f"Goal: {goal}\n\nSources:\n"
            + untrusted_data(material[:12000], "the sources (files and fetched pages)"),
            response_format={"type": "json_object"},
        )
    except LlmUnavailable as exc:  # the deterministic notes stand in
        activity.logger.info("no LLM notes (%s); writing plain notes", exc)
        return None
    try:
        data: dict[str, Any] = json.loads(content or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):  # valid JSON, wrong shape: the plain notes stand in
        return None
    findings, questions = data.get("findings", []), data.get("open_questions", [])
    return ResearchNotes(
        goal=goal,
        sources=sources,
        findings=[str(x) for x in findings][:30] if isinstance(findings, list) else [],
        open_questions=[str(x) for x in questions][:30] if isinstance(questions, list) else [],
        method=f"llm:{settings.openai_model}",
    )


def render_markdown(notes: ResearchNotes) -> str:
    lines = [
        f"# Research notes\n\n**Goal:** {notes.goal}\n\n_Method: {notes.method}_\n",
        "## Sources",
    ]
    lines += [
        f"- [{'ok' if s.ok else 'failed'}] {s.kind} `{s.ref}` — {s.detail}" for s in notes.sources
    ]
    if not notes.sources:
        lines.append("- (none)")
    lines.append("\n## Findings")
    lines += [f"- {f}" for f in notes.findings] or ["- (none)"]
    lines.append("\n## Open questions")
    lines += [f"- {q}" for q in notes.open_questions] or ["- (none)"]
    return "\n".join(lines) + "\n"


def nothing_read_warning(notes: ResearchNotes) -> str:
    """What the person must hear when the research read nothing; empty when it read something
    (or when no source was named and the LLM researched the goal on its own)."""
    if any(source.ok for source in notes.sources):
        return ""
    if not notes.sources:
        if notes.method != "deterministic":
            return ""
        return (
            "Nothing was read: the goal names no workspace file and no URL. "
            "Name a file in the job's workspace or a public http(s) URL."
        )
    tried = "; ".join(f"{s.ref}: {s.detail}" for s in notes.sources[:3])
    more = f" (and {len(notes.sources) - 3} more)" if len(notes.sources) > 3 else ""
    return f"Nothing was read — {tried}{more}. The notes only record what was tried."


class ResearchActivities:
    def __init__(self, settings: Settings, guard: AddressGuard | None = None) -> None:
        self.settings = settings
        self.guard = guard or AddressGuard(
            allow_private=settings.research_allow_private_networks,
            resolve_timeout=URL_TIMEOUT_SECONDS,
        )

    @activity.defn(name="research.gather")
    async def gather(self, step: StepInput) -> StepOutput:
        goal = str(step.params.get("goal") or step.goal)
        with Workspace.open(self.settings.workspaces_dir, step.workspace) as workspace:
            return await self._gather(step, goal, workspace)

    async def _gather(self, step: StepInput, goal: str, workspace: Workspace) -> StepOutput:
        urls = find_urls(goal)[:MAX_SOURCES]
        goal_without_urls = URL_RE.sub(" ", goal)
        # The files the goal names, and those the person gave the job (in the workspace).
        given = [str(name) for name in step.params.get("files") or []]
        named = PATH_RE.findall(goal_without_urls)
        files = list(dict.fromkeys([*named, *given]))[:MAX_SOURCES]
        # What /job and the live card show while research waits on a page or a model.
        done: list[str] = []
        phase = ["reading the workspace"]

        def details() -> dict[str, str]:
            return {"phase": phase[0], "tail": "\n".join([*done[-5:], f"… {phase[0]}"])}

        after = self.settings.live_card_after_seconds
        async with ticking(step, after, details):
            sources = [read_file_source(workspace, ref) for ref in files]
            if urls:
                async with research_client(URL_TIMEOUT_SECONDS) as client:
                    for url in urls:
                        phase[0] = f"fetching {url}"
                        source = await fetch_url(client, url, self.guard)
                        sources.append(source)
                        done.append(f"{'✓' if source.ok else '✗'} {url}")
            phase[0] = "writing the notes"
            notes = await llm_notes(self.settings, goal, sources) or deterministic_notes(
                goal, sources
            )
        workspace.write_text("notes.md", render_markdown(notes))
        workspace.write_text("notes.json", notes.model_dump_json(indent=2))
        read_ok = sum(1 for s in notes.sources if s.ok)
        return StepOutput(
            worker=step.worker,
            summary=f"read {read_ok} of {len(notes.sources)} source(s); "
            f"{len(notes.findings)} finding(s), {len(notes.open_questions)} open question(s)",
            warning=nothing_read_warning(notes),
            output=render_markdown(notes),
            files=["notes.md", "notes.json"],
            data={"method": notes.method, "sources": len(notes.sources), "read": read_ok},
        )


WORKER = WorkerDefinition(
    name="research",
    description="Gathers information from workspace files and URLs and writes structured notes.",
    task_queue=RESEARCH_QUEUE,
    step_activity="research.gather",
    activities=lambda settings: [ResearchActivities(settings).gather],
    capabilities=("research", "notes", "urls", "files"),
    input_param="goal",
    # It beats every second while it waits on a page or a model: a lost worker is noticed in
    # seconds, not at the step's timeout.
    heartbeat_timeout_seconds=10,
    fetches_urls=True,
    keywords=("research", "find", "look up", "investigate", "summarize", "read", "compare"),
)

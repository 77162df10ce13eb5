"""The agent's per-run budget in tokens (calls are covered against the scripted server): the
loop ends at the limit with the reason recorded, and the tokens used are counted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.heartbeat.agent import AgentActivities
from activities.heartbeat.deps import HeartbeatDeps
from core.domain.heartbeat.config import HeartbeatConfig
from core.domain.heartbeat.models import AgentRequest
from core.domain.heartbeat.target import HeartbeatTarget
from core.domain.registry import WorkerRegistry
from core.io.db import Database
from core.io.llm.client import Llm
from tests.support.stack import make_settings


class LoopingModel:
    """Always asks for another tool call, reporting 5,000 tokens per call."""

    def __init__(self) -> None:
        self.calls = 0
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    async def create(self, **_: Any) -> Any:
        self.calls += 1
        call = SimpleNamespace(
            id=f"call_{self.calls}",
            type="function",
            function=SimpleNamespace(name="list_workspace_files", arguments="{}"),
        )
        message = SimpleNamespace(content=None, tool_calls=[call])
        return SimpleNamespace(
            choices=[SimpleNamespace(message=message)],
            usage=SimpleNamespace(total_tokens=5000),
        )


async def test_the_token_budget_ends_the_loop(tmp_path: Path) -> None:
    model = LoopingModel()
    settings = make_settings(tmp_path, "127.0.0.1:1")
    deps = HeartbeatDeps(
        settings=settings,
        client=None,  # type: ignore[arg-type]  # the workspace tool needs no Temporal
        db=Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"),
        registry=WorkerRegistry([]),
        sender=None,  # type: ignore[arg-type]
        llm=lambda: Llm(model, settings, timeout=5),  # type: ignore[arg-type]
    )
    target = HeartbeatTarget(chat_id=77)
    request = AgentRequest(
        target=target,
        config=HeartbeatConfig(max_llm_calls=50, max_llm_tokens=12_000),
        prompt="p",
        preamble="s",
        workspace_folder=target.workspace_folder,
    )
    result = await ActivityEnvironment().run(AgentActivities(deps).run_agent, request)
    assert result.stop_reason == "budget: 12000 tokens"
    assert result.llm_calls == 3 and model.calls == 3 and result.tokens == 15_000
    assert result.tool_calls == 3
    await deps.db.close()

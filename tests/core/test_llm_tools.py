"""The one tool system: a call with bad arguments tells the model what is wrong and changes
nothing, a bug in a handler is not dressed up as a refusal, and a tool both callers offer has one
schema in both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activities.heartbeat.agent import agent_toolset
from activities.heartbeat.deps import HeartbeatDeps
from bot.intake.tools import TOOLS as INTAKE_TOOLS
from core.domain.registry import WorkerRegistry
from core.io.db import Database
from core.io.llm.chat_tools import (
    WRITE_WORKSPACE_FILE,
    ChatScope,
    ListJobsArgs,
)
from core.io.llm.tools import Tool, ToolArgs, Toolset
from tests.support.stack import make_settings

SHARED = {"list_jobs", "get_job", "read_workspace_file", "write_workspace_file"}


class FolderOnly(ChatScope):
    """A chat with a workspace and no jobs: enough for the file tools."""

    def __init__(self, root: Path) -> None:
        super().__init__(1, None, root, "chat-1")  # type: ignore[arg-type]  # no job is asked
        self.written: list[str] = []

    async def show_jobs(self, args: ListJobsArgs) -> str:
        raise AssertionError("not called")

    async def show_job(self, job_id: str) -> str:
        raise AssertionError("not called")

    async def file_written(self, where: str, path: str, chars: int) -> None:
        self.written.append(path)


def files_in(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ("{not json", "arguments are not valid JSON"),
        ("[]", "invalid arguments for write_workspace_file"),
        (json.dumps({"content": "x"}), "path: Field required"),
        (json.dumps({"path": "a.md", "content": 42}), "content: Input should be a valid string"),
        (json.dumps({"path": "a.md", "content": "x", "mode": "append"}), "mode: Extra inputs"),
        (json.dumps({"path": "a.md", "content": "x" * 100_001}), "content: String should have"),
        (json.dumps({"path": "a.md", "content": "x", "job_id": "j"}), "job_id: String should"),
    ],
)
async def test_bad_arguments_are_explained_and_change_nothing(
    tmp_path: Path, arguments: str, says: str
) -> None:
    scope = FolderOnly(tmp_path)
    result = await Toolset([WRITE_WORKSPACE_FILE]).call(scope, "write_workspace_file", arguments)
    assert not result.ok and result.text.startswith("error: ")
    assert says in result.text, result.text
    assert scope.written == [] and files_in(tmp_path) == []


async def test_an_unknown_tool_names_the_ones_there_are(tmp_path: Path) -> None:
    result = await Toolset([WRITE_WORKSPACE_FILE]).call(FolderOnly(tmp_path), "rm", "{}")
    assert result.text == "error: no tool named 'rm'; use one of write_workspace_file"


async def test_a_refusal_is_the_models_answer_and_a_good_call_works(tmp_path: Path) -> None:
    tools = Toolset([WRITE_WORKSPACE_FILE])
    scope = FolderOnly(tmp_path)
    escape = json.dumps({"path": "../chat-2/x.md", "content": "x"})
    refused = await tools.call(scope, "write_workspace_file", escape)
    assert not refused.ok and "leaves the workspace" in refused.text
    assert scope.written == [] and not (tmp_path / "chat-2").exists()
    good = json.dumps({"path": "notes/a.md", "content": "hello"})
    done = await tools.call(scope, "write_workspace_file", good)
    assert done.ok and done.terminal and scope.written == ["notes/a.md"]
    assert (tmp_path / "chat-1" / "notes" / "a.md").read_text() == "hello"


@pytest.mark.parametrize("bug", [TypeError("a bug"), KeyError("job_id"), ValueError("a bug")])
async def test_a_bug_in_a_handler_is_not_turned_into_a_refusal(bug: Exception) -> None:
    """Only the project's refusals become the model's answer: a KeyError or a plain ValueError
    in a handler is a bug, and it propagates (logged by the caller with its traceback)."""

    async def broken(scope: object, args: ToolArgs) -> str:
        raise bug

    tools = Toolset([Tool[object]("broken", "A tool with a bug.", ToolArgs, broken)])
    with pytest.raises(type(bug)):
        await tools.call(object(), "broken", "{}")


def schemas_by_name(schemas: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["function"]["name"]: s for s in schemas}


async def test_a_tool_both_callers_offer_has_one_schema(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "127.0.0.1:1")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    deps = HeartbeatDeps(settings, None, db, WorkerRegistry([]), None)  # type: ignore[arg-type]
    intake = schemas_by_name(INTAKE_TOOLS.schemas())
    for optional in (False, True):
        heartbeat = schemas_by_name(agent_toolset(deps, optional).schemas())
        assert set(intake) & set(heartbeat) >= SHARED
        for name in set(intake) & set(heartbeat):
            assert intake[name] == heartbeat[name], name
    # Generated from the arguments model: required fields and no pydantic titles.
    write = intake["write_workspace_file"]["function"]["parameters"]
    assert write["required"] == ["path", "content"] and write["additionalProperties"] is False
    assert "title" not in json.dumps(write)
    await db.close()

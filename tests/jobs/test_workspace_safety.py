"""Workspace paths cannot escape the job's folder; job folders are grouped per chat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain.ids import workspace_name
from core.io.workspace import Workspace, WorkspaceError, workspace_dir


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / "workspaces", "chat-1/job-abc123") as workspace:
        yield workspace


@pytest.mark.parametrize(
    "path",
    ["../other/secret.txt", "a/../../x", "/etc/passwd", "", "   ", "sub/../../job-other/notes.md"],
)
def test_escapes_are_refused(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceError):
        ws.read_text(path)
    with pytest.raises(WorkspaceError):
        ws.write_text(path, "x")


def test_symlink_out_is_refused(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (ws.path / "link.txt").symlink_to(outside)
    (ws.path / "dirlink").symlink_to(tmp_path)
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.read_text("link.txt")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.write_text("dirlink/new.txt", "x")
    assert not (tmp_path / "new.txt").exists()
    assert "link.txt" not in ws.list_files()


def test_inside_paths_work(ws: Workspace) -> None:
    ws.write_text("notes/a.md", "hello")
    assert ws.read_text("notes/a.md") == "hello"
    assert ws.read_text("./notes/a.md") == "hello"
    assert ws.list_files() == ["notes/a.md"]


def test_workspace_folder_names_are_plain(tmp_path: Path) -> None:
    for folder in ("../up", "a/b/c", "chat-1/../chat-2", "/chat-1"):
        with pytest.raises(WorkspaceError):
            Workspace.open(tmp_path, folder)
    assert workspace_dir(tmp_path, "chat-1/job-a") == (tmp_path / "chat-1" / "job-a").resolve()
    assert (tmp_path / "chat-1" / "job-a").is_dir()
    assert (
        workspace_name(42, "job-abc123-2026-11-25T09:00:00Z")
        == "chat-42/job-abc123-2026-11-25t09-00-00z"
    )
    assert workspace_name(-100123, "job-abc") == "chat-n100123/job-abc"


def test_a_sibling_with_the_same_prefix_is_outside(ws: Workspace) -> None:
    """`job-abc123-other` starts with `job-abc123` but is another job: a link into it from
    `job-abc123` is refused (no link is followed at all)."""
    other = ws.path.parent / "job-abc123-other"
    other.mkdir()
    (other / "step1-output.log").write_text("another job's output")
    (ws.path / "peek").symlink_to(other)
    (ws.path / "peek.log").symlink_to(other / "step1-output.log")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.read_text("peek/step1-output.log")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.read_text("peek.log")
    with pytest.raises(WorkspaceError, match="never followed"):
        ws.write_text("peek/planted.txt", "x")
    assert not (other / "planted.txt").exists()


def test_a_symlinked_job_folder_is_refused(tmp_path: Path) -> None:
    """A job folder that is a link into another chat's folder is not that job's workspace."""
    root = tmp_path / "workspaces"
    victim = workspace_dir(root, "chat-2/job-theirs")
    (root / "chat-1").mkdir()
    (root / "chat-1" / "job-mine").symlink_to(victim)
    (root / "chat-3").symlink_to(tmp_path)  # a chat folder pointing out of the root
    with pytest.raises(WorkspaceError, match="never followed"):
        Workspace.open(root, "chat-3/job-x")
    with pytest.raises(WorkspaceError, match="never followed"):
        Workspace.open(root, "chat-1/job-mine")
    assert not (tmp_path / "job-x").exists()
    assert workspace_dir(root, "chat-2/job-theirs") == victim


def test_a_path_that_only_looks_like_a_sibling_stays_inside(ws: Workspace) -> None:
    ws.write_text("job-abc123-other/x", "mine")
    assert (ws.path / "job-abc123-other" / "x").read_text() == "mine"
    assert not (ws.path.parent / "job-abc123-other").exists()

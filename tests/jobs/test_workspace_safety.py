"""Workspace paths cannot escape the job's folder; job folders are grouped per chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ids import workspace_name
from core.workspace import (
    WorkspaceError,
    list_files,
    read_text,
    resolve_inside,
    workspace_dir,
    write_text,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return workspace_dir(tmp_path / "workspaces", "chat-1/job-abc123")


@pytest.mark.parametrize(
    "path",
    ["../other/secret.txt", "a/../../x", "/etc/passwd", "", "   ", "sub/../../job-other/notes.md"],
)
def test_escapes_are_refused(ws: Path, path: str) -> None:
    with pytest.raises(WorkspaceError):
        resolve_inside(ws, path)
    with pytest.raises(WorkspaceError):
        write_text(ws, path, "x")


def test_symlink_out_is_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (ws / "link.txt").symlink_to(outside)
    (ws / "dirlink").symlink_to(tmp_path)
    with pytest.raises(WorkspaceError, match="outside"):
        read_text(ws, "link.txt")
    with pytest.raises(WorkspaceError, match="outside"):
        write_text(ws, "dirlink/new.txt", "x")
    assert not (tmp_path / "new.txt").exists()
    assert "link.txt" not in list_files(ws)


def test_inside_paths_work(ws: Path) -> None:
    write_text(ws, "notes/a.md", "hello")
    assert read_text(ws, "notes/a.md") == "hello"
    assert read_text(ws, "./notes/a.md") == "hello"
    assert list_files(ws) == ["notes/a.md"]


def test_workspace_folder_names_are_plain(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError):
        workspace_dir(tmp_path, "../up")
    with pytest.raises(WorkspaceError):
        workspace_dir(tmp_path, "a/b/c")
    with pytest.raises(WorkspaceError):
        workspace_dir(tmp_path, "chat-1/../chat-2")
    with pytest.raises(WorkspaceError):
        workspace_dir(tmp_path, "/chat-1")
    assert workspace_dir(tmp_path, "chat-1/job-a") == (tmp_path / "chat-1" / "job-a").resolve()
    assert (
        workspace_name(42, "job-abc123-2026-11-25T09:00:00Z")
        == "chat-42/job-abc123-2026-11-25t09-00-00z"
    )
    assert workspace_name(-100123, "job-abc") == "chat-n100123/job-abc"


def test_a_sibling_with_the_same_prefix_is_outside(ws: Path) -> None:
    """`job-abc123-other` starts with `job-abc123` but is another job: a symlink into it from
    `job-abc123` is refused (containment compares path components, not strings)."""
    other = ws.parent / "job-abc123-other"
    other.mkdir()
    (other / "step1-output.log").write_text("another job's output")
    (ws / "peek").symlink_to(other)
    (ws / "peek.log").symlink_to(other / "step1-output.log")
    with pytest.raises(WorkspaceError, match="outside"):
        read_text(ws, "peek/step1-output.log")
    with pytest.raises(WorkspaceError, match="outside"):
        read_text(ws, "peek.log")
    with pytest.raises(WorkspaceError, match="outside"):
        write_text(ws, "peek/planted.txt", "x")
    assert not (other / "planted.txt").exists()


def test_a_symlinked_job_folder_is_refused(tmp_path: Path) -> None:
    """A job folder that is a symlink into another chat's folder is not that job's workspace."""
    root = tmp_path / "workspaces"
    victim = workspace_dir(root, "chat-2/job-theirs")
    (root / "chat-1").mkdir()
    (root / "chat-1" / "job-mine").symlink_to(victim)
    (root / "chat-3").symlink_to(tmp_path)  # a chat folder pointing out of the root
    with pytest.raises(WorkspaceError, match="outside"):
        workspace_dir(root, "chat-3/job-x")
    with pytest.raises(WorkspaceError, match="outside"):
        workspace_dir(root, "chat-1/job-mine")
    assert workspace_dir(root, "chat-2/job-theirs") == victim


def test_a_sibling_whose_name_extends_this_one_is_outside(tmp_path: Path) -> None:
    """`job-abc123-other` starts with the text `job-abc123`; containment is by path, not by
    string prefix, so nothing inside one workspace reaches into the other."""
    base = tmp_path / "job-abc123"
    sibling = tmp_path / "job-abc123-other"
    base.mkdir()
    sibling.mkdir()
    (sibling / "secret.txt").write_text("the other job's output")
    (base / "peek.txt").symlink_to(sibling / "secret.txt")
    (base / "into").symlink_to(sibling, target_is_directory=True)
    for path in ("peek.txt", "into", "into/secret.txt", "into/new.txt"):
        with pytest.raises(WorkspaceError, match="outside"):
            resolve_inside(base, path)
    with pytest.raises(WorkspaceError, match="outside"):
        read_text(base, "peek.txt")
    with pytest.raises(WorkspaceError, match="outside"):
        write_text(base, "into/new.txt", "x")
    assert not (sibling / "new.txt").exists()
    assert list_files(base) == []
    # The same sibling by `..` or by its absolute path.
    for path in ("../job-abc123-other/secret.txt", str(sibling / "secret.txt")):
        with pytest.raises(WorkspaceError):
            resolve_inside(base, path)
    # A path that only looks like the sibling stays inside.
    assert resolve_inside(base, "job-abc123-other/x") == base.resolve() / "job-abc123-other/x"

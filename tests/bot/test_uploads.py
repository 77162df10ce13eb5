"""Checks on the files a person gives a job, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.types import Attachment
from bot.uploads import UploadError, checked, parse_attach, place, starts_with_attach
from core.io.settings import Settings


def settings_for(data: Path, limit: int = 100) -> Settings:
    return Settings(_env_file=None, HBO_DATA_DIR=str(data), UPLOAD_MAX_BYTES=limit)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("args", "paths", "rest"),
    [
        ("--attach inbox/a.txt wc -l a.txt", ["inbox/a.txt"], "wc -l a.txt"),
        ("--attach=inbox/a.txt cat a.txt", ["inbox/a.txt"], "cat a.txt"),
        ('--attach "in box/a b.txt" cat "a b.txt"', ["in box/a b.txt"], 'cat "a b.txt"'),
        (
            "--attach a.txt --attach b.txt paste a.txt b.txt",
            ["a.txt", "b.txt"],
            "paste a.txt b.txt",
        ),
        ("wc -l --attach a.txt", [], "wc -l --attach a.txt"),  # only at the start
    ],
)
def test_attach_options_are_read_from_the_start_only(
    args: str, paths: list[str], rest: str
) -> None:
    assert parse_attach(args) == (paths, rest)


def test_attach_needs_a_path_and_is_a_whole_word() -> None:
    with pytest.raises(UploadError, match="--attach needs a path"):
        parse_attach("--attach")
    assert not starts_with_attach("--attachment x")
    assert starts_with_attach("--attach x") and starts_with_attach("--attach=x")


def test_checked_names_sizes_and_duplicates(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ok = checked([Attachment(file_id="f", file_name="-x.txt", size=100)], settings)
    assert [u.name for u in ok] == ["_x.txt"]
    with pytest.raises(UploadError, match=r"too large \(101 bytes; the limit is 100 bytes"):
        checked([Attachment(file_id="f", file_name="a.txt", size=101)], settings)
    with pytest.raises(UploadError, match="Send it as a file"):
        checked([Attachment(file_id="f", file_name=None, size=1)], settings)
    twice = [Attachment(file_id="f", file_name="a.txt"), Attachment(file_id="g", file_name="a.txt")]
    with pytest.raises(UploadError, match=r"Two files are named a\.txt"):
        checked(twice, settings)


async def test_a_console_file_is_copied_and_rechecked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    source = data / "inbox" / "a.txt"
    source.write_bytes(b"hello")
    settings = settings_for(data, limit=10)
    workspace = settings.workspaces_dir / "chat-1" / "job-a"
    given = checked([Attachment(file_name="a.txt", local_path="inbox/a.txt")], settings)
    placed = await place(given, settings, "chat-1/job-a", fetch=None)
    assert placed == [(workspace / "a.txt").resolve()]
    assert (workspace / "a.txt").read_bytes() == b"hello"

    source.write_bytes(b"grown beyond the limit")  # changed after the message was read
    with pytest.raises(UploadError, match="too large"):
        await place(given, settings, "chat-1/job-a", fetch=None)
    with pytest.raises(UploadError, match="not a file under the data folder"):
        checked([Attachment(file_name="x", local_path=str(tmp_path / "ws" / "a.txt"))], settings)


async def test_a_console_file_is_not_read_through_a_link_in_a_workspace(tmp_path: Path) -> None:
    """A command can plant a link in its chat's folder, which is under the data folder; a
    console `--attach` of that path never reads where the link points (another chat's file)."""
    data = tmp_path / "data"
    settings = settings_for(data, limit=100)
    theirs = settings.workspaces_dir / "chat-2" / "secret.txt"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"chat 2's secret")
    mine = settings.workspaces_dir / "chat-1" / "job-a"
    mine.mkdir(parents=True)
    (mine / "notes.txt").symlink_to(theirs)
    (settings.workspaces_dir / "chat-1" / "job-b").symlink_to(theirs.parent)
    for path in ("workspaces/chat-1/job-a/notes.txt", "workspaces/chat-1/job-b/secret.txt"):
        with pytest.raises(UploadError, match="not a file under the data folder"):
            checked([Attachment(file_name="notes.txt", local_path=path)], settings)
    # Swapped for a link after the check: refused when the file is taken.
    (mine / "real.txt").write_bytes(b"mine")
    given = checked(
        [Attachment(file_name="real.txt", local_path="workspaces/chat-1/job-a/real.txt")],
        settings,
    )
    (mine / "real.txt").unlink()
    (mine / "real.txt").symlink_to(theirs)
    with pytest.raises(UploadError, match="not a file under the data folder"):
        await place(given, settings, "chat-1/job-c", fetch=None)
    assert not (settings.workspaces_dir / "chat-1" / "job-c" / "real.txt").exists()


async def test_a_telegram_document_needs_a_transport(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    given = checked([Attachment(file_id="f", file_name="a.txt")], settings)

    async def too_big(attachment: Attachment) -> bytes:
        return b"x" * 101  # a document whose size the message did not say

    with pytest.raises(UploadError, match="cannot be fetched here"):
        await place(given, settings, "chat-1/job-a", fetch=None)
    with pytest.raises(UploadError, match="too large"):
        await place(given, settings, "chat-1/job-a", fetch=too_big)
    assert not (settings.workspaces_dir / "chat-1" / "job-a" / "a.txt").exists()

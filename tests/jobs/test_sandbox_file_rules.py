"""The sandbox's file handling without starting a sandbox: closing the data folder, closing the
secrets file and handing a job's folder over must never act on what a link points to — not even
when a command swaps an entry for a link (or a FIFO) between the check and the open — and must
say exactly what they changed."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from activities.sandbox import RunAs, close_secret_file, hand_over, prepare_data_dir

NOBODY = RunAs(65534, 65534)


def _run_as() -> RunAs:
    """Whom folders are handed to: nobody as root; elsewhere this user itself (chown to oneself
    is allowed, and the recorded calls show what would have been handed over)."""
    return NOBODY if os.geteuid() == 0 else RunAs(os.getuid(), os.getgid())


def swap_after_stat(
    monkeypatch: pytest.MonkeyPatch, name: str, swap: Callable[[int], None]
) -> list[str]:
    """Make the first `os.stat(name, dir_fd=...)` return what it saw, then run `swap(dir_fd)`:
    the entry changes between the check and the open, as a racing command could make it.
    Returns a list that holds `name` once the swap happened."""
    real_stat = os.stat
    swapped: list[str] = []

    def racing_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        seen = real_stat(path, *args, **kwargs)
        dir_fd = kwargs.get("dir_fd")
        if path == name and dir_fd is not None and not swapped:
            swap(dir_fd)
            swapped.append(name)
        return seen

    monkeypatch.setattr(os, "stat", racing_stat)
    return swapped


def to_link(name: str, target: Path) -> Callable[[int], None]:
    def swap(dir_fd: int) -> None:
        os.unlink(name, dir_fd=dir_fd)
        os.symlink(target, name, dir_fd=dir_fd)

    return swap


def to_fifo(name: str) -> Callable[[int], None]:
    def swap(dir_fd: int) -> None:
        os.unlink(name, dir_fd=dir_fd)
        os.mkfifo(name, dir_fd=dir_fd)

    return swap


@contextlib.contextmanager
def released_if_blocked(fifo: Path, after: float = 5.0) -> Iterator[list[bool]]:
    """Guard a call that must not wait on the FIFO `fifo`: if the block has not finished after
    `after` seconds, open the FIFO's writing end once, which lets an open that waits for a writer
    return, and record that it had to. The call returning first is the positive marker."""
    done = threading.Event()
    released: list[bool] = []

    def watch() -> None:
        if done.wait(after):
            return
        released.append(True)
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading (waiting) after all
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield released
    finally:
        done.set()
        watcher.join()


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """New files and folders get 0644 and 0755, as the expected modes say."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inode of every file or folder `os.fchown` is called on (the call still happens)."""
    real_fchown = os.fchown
    inodes: list[int] = []

    def recording_fchown(fd: int, uid: int, gid: int) -> None:
        inodes.append(os.fstat(fd).st_ino)
        real_fchown(fd, uid, gid)

    monkeypatch.setattr(os, "fchown", recording_fchown)
    return inodes


# --- closing the data folder ------------------------------------------------------------------


def test_closing_the_data_folder_says_exactly_what_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "not" / "yet" / "data"  # made with its parents
    workspaces = tmp_path / "elsewhere" / "workspaces"  # another place, also made with parents
    with caplog.at_level(logging.INFO, logger="activities.sandbox"):
        first = prepare_data_dir(data, workspaces)
    assert first == [f"{data} 0o755 -> 0o711", f"{workspaces} 0o755 -> 0o711"]
    assert stat.S_IMODE(data.stat().st_mode) == stat.S_IMODE(workspaces.stat().st_mode) == 0o711
    assert [r.getMessage() for r in caplog.records] == [
        f"data folder closed to the commands' user: {data} 0o755 -> 0o711; "
        f"{workspaces} 0o755 -> 0o711"
    ]

    (data / "hbo.db").write_text("rows")
    (data / "hbo.db").chmod(0o644)
    (data / "temporal").mkdir(mode=0o755)
    (data / "temporal").chmod(0o755)
    (data / "closed.log").write_text("lines")
    (data / "closed.log").chmod(0o600)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the data folder's")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    os.mkfifo(data / "fifo", 0o644)
    os.chmod(data / "fifo", 0o644)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="activities.sandbox"):
        second = prepare_data_dir(data, workspaces)
    assert sorted(second) == ["hbo.db 0o644 -> 0o600", "temporal 0o755 -> 0o700"]
    assert [r.getMessage() for r in caplog.records] == [
        f"data folder closed to the commands' user: {'; '.join(second)}"
    ]
    assert stat.S_IMODE((data / "hbo.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "temporal").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "closed.log").stat().st_mode) == 0o600
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link's target is not the data's
    assert stat.S_IMODE(os.lstat(data / "fifo").st_mode) == 0o644  # neither file nor folder

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="activities.sandbox"):
        assert prepare_data_dir(data, workspaces) == []  # nothing left to close
    assert caplog.records == []


def test_the_workspaces_folder_inside_the_data_folder_stays_searchable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    names = ["a.log", "b.log", "c.log", "workspaces", "x.log", "y.log", "z.log"]
    for name in names:
        if name != "workspaces":
            (data / name).write_text(name)
            (data / name).chmod(0o644)
    changed = prepare_data_dir(data, data / "workspaces")
    assert stat.S_IMODE((data / "workspaces").stat().st_mode) == 0o711
    files = sorted(line for line in changed if not line.startswith(str(data)))
    assert files == [f"{name} 0o644 -> 0o600" for name in names if name != "workspaces"]


def test_a_folder_of_another_owner_is_left_alone(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can make a folder another user's")
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    theirs = data / "theirs.log"
    theirs.write_text("another user's")
    theirs.chmod(0o644)
    os.chown(theirs, NOBODY.uid, NOBODY.gid)
    workspaces = data / "workspaces"
    workspaces.mkdir(mode=0o755)
    os.chown(workspaces, NOBODY.uid, NOBODY.gid)
    workspaces.chmod(0o755)
    assert prepare_data_dir(data, workspaces) == [f"{data} 0o755 -> 0o711"]
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o644
    assert stat.S_IMODE(workspaces.stat().st_mode) == 0o755


def test_an_entry_swapped_for_a_link_after_the_check_closes_not_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hbo.db").write_text("rows")
    (data / "hbo.db").chmod(0o644)
    outside = tmp_path / "operators-other-file"
    outside.write_text("not the data folder's")
    outside.chmod(0o644)
    swapped = swap_after_stat(monkeypatch, "hbo.db", to_link("hbo.db", outside))
    changed = prepare_data_dir(data, data / "workspaces")
    assert swapped == ["hbo.db"]  # the race was staged
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    assert not any(line.startswith("hbo.db") for line in changed), changed


# --- the secrets file ---------------------------------------------------------------------------


def test_closing_the_secrets_file_says_exactly_what_it_did(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TELEGRAM_BOT_TOKEN=x")
    dotenv.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="activities.sandbox"):
        assert close_secret_file(dotenv) is True
    assert [r.getMessage() for r in caplog.records] == [
        f"{dotenv} was readable by other users; now 0o600 (owner only)"
    ]
    folder = tmp_path / "folder"
    folder.mkdir()
    folder.chmod(0o755)
    assert close_secret_file(folder) is False  # a folder is not a secrets file
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_secrets_file_that_is_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo, 0o644)
    with released_if_blocked(fifo) as released:
        assert close_secret_file(fifo) is False
    assert released == []  # it returned by itself, without a writer
    assert stat.S_IMODE(fifo.stat().st_mode) == 0o644


# --- handing a job's folder over ----------------------------------------------------------------


def _job(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "workspaces"
    job = root / "chat-1" / "job-a"
    job.mkdir(parents=True)
    (job / "upload.txt").write_text("given")
    return root, job


def test_a_link_planted_in_the_job_folder_is_skipped_quietly(
    tmp_path: Path, handed: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    root, job = _job(tmp_path)
    target = tmp_path / "operators.txt"
    target.write_text("the operator's")
    (job / "soft").symlink_to(target)
    with caplog.at_level(logging.DEBUG, logger="activities.sandbox"):
        hand_over(root, job, _run_as())
    assert (job / "upload.txt").stat().st_ino in handed
    assert target.stat().st_ino not in handed
    assert caplog.records == []  # a link is simply not handed over: nothing went wrong


def test_an_entry_swapped_for_a_link_after_the_check_is_not_handed_over(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    handed: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    root, job = _job(tmp_path)
    (job / "planted").write_text("swapped for a link in a moment")
    target = tmp_path / "operators.txt"
    target.write_text("the operator's")
    swapped = swap_after_stat(monkeypatch, "planted", to_link("planted", target))
    with caplog.at_level(logging.DEBUG, logger="activities.sandbox"):
        hand_over(root, job, _run_as())
    assert swapped == ["planted"]  # the race was staged
    assert target.stat().st_ino not in handed
    assert (job / "upload.txt").stat().st_ino in handed
    assert [r.getMessage() for r in caplog.records] == [
        "not handed over: planted ([Errno 40] Too many levels of symbolic links: 'planted')"
    ]
    if os.geteuid() == 0:
        assert target.stat().st_uid == 0


def test_an_entry_swapped_for_a_fifo_after_the_check_is_not_waited_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handed: list[int]
) -> None:
    root, job = _job(tmp_path)
    (job / "planted").write_text("swapped for a FIFO in a moment")
    swapped = swap_after_stat(monkeypatch, "planted", to_fifo("planted"))
    with released_if_blocked(job / "planted") as released:
        hand_over(root, job, _run_as())
    assert swapped == ["planted"]  # the race was staged
    assert released == []  # the open returned by itself, without a writer
    assert (job / "planted").stat().st_ino not in handed
    assert (job / "upload.txt").stat().st_ino in handed

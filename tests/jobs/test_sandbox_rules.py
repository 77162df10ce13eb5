"""The sandbox's rules without starting a sandbox: the exact bubblewrap arguments (every
namespace unshared, dies with the worker, no capabilities, network only when allowed, system
read-only, only the chat folder writable), the mode chosen for each setting (probing faked),
the start-up wording, and the probe itself against a fake `bwrap` that records its arguments."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest

from activities import sandbox as sandbox_module
from activities.sandbox import (
    ETC_PATHS,
    INSTALL_HINT,
    PLAIN_MODE_NOTICE,
    PROBE_TIMEOUT_SECONDS,
    RunAs,
    Sandbox,
    choose_sandbox,
    close_secret_file,
    plain_mode_notice,
    probe,
    run_as_for,
    unreachable_parent,
)
from tests.support.sandbox import reachable_folder
from tests.support.stack import make_settings

NOBODY = RunAs(65534, 65534)
ETC_ARGS = [a for name in ETC_PATHS for a in ("--ro-bind-try", f"/etc/{name}", f"/etc/{name}")]


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "_chosen", {})


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """System folders of a fake root: a folder, a symlink to one, another folder (a system
    without merged /usr), one that is missing."""
    usr, lib = tmp_path / "usr", tmp_path / "lib"
    usr.mkdir()
    lib.mkdir()
    (tmp_path / "bin").symlink_to("usr/bin")
    paths = (str(usr), str(tmp_path / "bin"), str(lib), str(tmp_path / "missing"))
    monkeypatch.setattr(sandbox_module, "SYSTEM_PATHS", paths)
    return [
        *("--ro-bind", str(usr), str(usr)),
        *("--symlink", "usr/bin", str(tmp_path / "bin")),
        *("--ro-bind", str(lib), str(lib)),
    ]


TAIL = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--setenv", "HOME", "/tmp"]


def test_bwrap_arguments_unshare_everything_and_drop_every_capability(
    system: list[str],
) -> None:
    head = ["/x/bwrap", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    assert Sandbox("/x/bwrap").base_args() == [*head, *system, *ETC_ARGS, *TAIL]
    shared = Sandbox("/x/bwrap", network=True).base_args()
    assert shared[:3] == ["/x/bwrap", "--unshare-all", "--share-net"]
    assert shared[3:] == [*head[2:], *system, *ETC_ARGS, *TAIL]


def test_wrap_binds_only_the_chat_folder_and_remounts_the_root_read_only(
    system: list[str],
) -> None:
    chat, cwd = Path("/data/w/chat-1"), Path("/data/w/chat-1/job-a")
    wrapped = Sandbox("/x/bwrap").wrap(["ls", "-l"], chat_dir=chat, cwd=cwd)
    binds = ["--bind", str(chat), str(chat), "--chdir", str(cwd), "--remount-ro", "/"]
    assert wrapped == [*Sandbox("/x/bwrap").base_args(), *binds, "--", "ls", "-l"]
    assert Sandbox().wrap(["ls"], chat_dir=chat, cwd=cwd) == ["ls"]


def test_modes_and_their_start_up_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Sandbox().mode == "none"
    assert Sandbox("/x/bwrap").mode == "bwrap"
    assert Sandbox("/x/bwrap", refusal="no").mode == "refused"
    assert Sandbox(refusal="commands are refused: why").describe() == "commands are refused: why"
    assert Sandbox("/x/bwrap", run_as=NOBODY, setting="auto").describe() == (
        "under bubblewrap (EXECUTION_SANDBOX=auto), as uid 65534: own chat's folder only, own "
        "processes only, no network"
    )
    assert Sandbox("/x/bwrap", network=True, run_as=NOBODY, setting="bwrap").describe() == (
        "under bubblewrap (EXECUTION_SANDBOX=bwrap), as uid 65534: own chat's folder only, own "
        "processes only, with the network"
    )
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)
    assert Sandbox(setting="none").describe() == (
        "WITHOUT a sandbox (EXECUTION_SANDBOX=none), as uid 1000 (the operator's own user): they "
        "can read what that user can and use the network; each chat is told once"
    )


def test_commands_run_as_the_configured_user_only_when_the_operator_is_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        tmp_path, "127.0.0.1:1", EXECUTION_SANDBOX_UID="1234", EXECUTION_SANDBOX_GID="4321"
    )
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 0)
    assert run_as_for(settings) == RunAs(1234, 4321)
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)
    assert run_as_for(settings) is None


# --- which mode, probing faked ---------------------------------------------------------------


class FakeProbe:
    """Stands in for `probe`: records each call and answers `answer` (None: bubblewrap starts)."""

    def __init__(self) -> None:
        self.answer: str | None = None
        self.calls: list[tuple[str, RunAs | None, Path | None]] = []

    def __call__(
        self, bwrap: str, run_as: RunAs | None = None, reach: Path | None = None
    ) -> str | None:
        self.calls.append((bwrap, run_as, reach))
        return self.answer


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> FakeProbe:
    fake = FakeProbe()
    monkeypatch.setattr(sandbox_module, "probe", fake)
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)  # not root: nothing to close
    return fake


def test_bwrap_that_starts_is_chosen_with_the_settings_network(
    tmp_path: Path, probes: FakeProbe, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        tmp_path / "new" / "data",  # not there yet
        "127.0.0.1:1",
        EXECUTION_SANDBOX_BWRAP="/x/bwrap",
        EXECUTION_SANDBOX_NETWORK="1",
    )
    with caplog.at_level(logging.INFO, logger="activities.sandbox"):
        chosen = choose_sandbox(settings)
    assert chosen == Sandbox("/x/bwrap", True, None, setting="auto")
    assert probes.calls == [("/x/bwrap", None, settings.workspaces_dir)]
    assert settings.workspaces_dir.is_dir()  # made, with its parents, before it is bound
    assert [r.getMessage() for r in caplog.records] == [
        "EXECUTION_SANDBOX=auto: commands run under bubblewrap (/x/bwrap), as uid 1000 (the "
        "operator's own user), with the network"
    ]
    assert choose_sandbox(settings) is chosen and len(probes.calls) == 1  # probed once


def test_bwrap_is_found_on_the_path(
    tmp_path: Path, probes: FakeProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    chosen = choose_sandbox(make_settings(tmp_path, "127.0.0.1:1"))
    assert chosen.bwrap == str(fake) and chosen.network is False and chosen.mode == "bwrap"


def test_none_is_plain_without_probing(
    tmp_path: Path, probes: FakeProbe, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, "127.0.0.1:1", EXECUTION_SANDBOX="none")
    with caplog.at_level(logging.WARNING, logger="activities.sandbox"):
        chosen = choose_sandbox(settings)
    assert chosen == Sandbox(setting="none") and probes.calls == []
    assert [r.getMessage() for r in caplog.records] == [
        "EXECUTION_SANDBOX=none: commands run plainly, as uid 1000 (the operator's own user), "
        "without the sandbox: they can read what that user can and use the network (README: "
        "What a command can see)"
    ]


def test_bwrap_asked_for_refuses_with_the_probes_reason(
    tmp_path: Path, probes: FakeProbe, caplog: pytest.LogCaptureFixture
) -> None:
    probes.answer = "bwrap: No permission"
    settings = make_settings(
        tmp_path, "127.0.0.1:1", EXECUTION_SANDBOX="bwrap", EXECUTION_SANDBOX_BWRAP="/x/bwrap"
    )
    with caplog.at_level(logging.ERROR, logger="activities.sandbox"):
        chosen = choose_sandbox(settings)
    refusal = (
        "commands are refused: EXECUTION_SANDBOX=bwrap but bubblewrap cannot start here: "
        f"bwrap: No permission; {INSTALL_HINT} or set EXECUTION_SANDBOX=none explicitly, then "
        "restart"
    )
    assert chosen == Sandbox(refusal=refusal, setting="bwrap")
    assert [r.getMessage() for r in caplog.records] == [refusal]


def test_auto_that_cannot_start_runs_plainly_and_says_why(
    tmp_path: Path,
    probes: FakeProbe,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probes.answer = "should not be asked"
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    with caplog.at_level(logging.WARNING, logger="activities.sandbox"):
        chosen = choose_sandbox(make_settings(tmp_path, "127.0.0.1:1"))
    assert chosen == Sandbox(setting="auto") and probes.calls == []
    assert [r.getMessage() for r in caplog.records] == [
        "!!! EXECUTION_SANDBOX=auto and bubblewrap cannot start here (bubblewrap (bwrap) is not "
        "installed): commands run WITHOUT the sandbox, as uid 1000 (the operator's own user) — "
        "they can read what that user can and use the network. To sandbox them: "
        f"{INSTALL_HINT}; to say plain mode is meant: EXECUTION_SANDBOX=none"
    ]


def test_as_root_the_data_folder_is_closed_and_commands_run_as_the_set_user(
    probes: FakeProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 0)
    for data in reachable_folder():
        data.chmod(0o755)
        settings = make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX_BWRAP="/x/bwrap")
        chosen = choose_sandbox(settings)
        assert chosen.run_as == NOBODY and chosen.bwrap == "/x/bwrap"
        assert probes.calls == [("/x/bwrap", NOBODY, settings.workspaces_dir)]
        assert stat.S_IMODE(settings.data_path.stat().st_mode) == 0o711


@pytest.mark.parametrize(
    "change",
    [
        {"EXECUTION_SANDBOX": "none"},
        {"EXECUTION_SANDBOX_NETWORK": "1"},
        {"EXECUTION_SANDBOX_BWRAP": "/y/bwrap"},
        {"EXECUTION_SANDBOX_UID": "1234"},
        {"EXECUTION_SANDBOX_GID": "1234"},
    ],
)
def test_a_changed_setting_is_decided_anew(
    tmp_path: Path, probes: FakeProbe, change: dict[str, str]
) -> None:
    base = {"EXECUTION_SANDBOX_BWRAP": "/x/bwrap"}
    first = choose_sandbox(make_settings(tmp_path, "127.0.0.1:1", **base))
    second = choose_sandbox(make_settings(tmp_path, "127.0.0.1:1", **{**base, **change}))
    assert second is not first


def test_another_data_folder_is_decided_anew(tmp_path: Path, probes: FakeProbe) -> None:
    first = choose_sandbox(make_settings(tmp_path / "a", "127.0.0.1:1"))
    assert choose_sandbox(make_settings(tmp_path / "b", "127.0.0.1:1")) is not first


# --- the probe, against a fake bwrap ---------------------------------------------------------


def _fake_bwrap(folder: Path, code: int, stderr: str = "") -> Path:
    fake = folder / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {folder}/args\n'
        f"id -u > {folder}/uid; id -g >> {folder}/gid; id -G > {folder}/groups\n"
        f"printf '{stderr}' >&2\nexit {code}\n"
    )
    fake.chmod(0o755)
    return fake


def test_probe_starts_true_in_the_sandbox_with_the_folder_bound(system: list[str]) -> None:
    for folder in reachable_folder():
        fake = _fake_bwrap(folder, 0)
        reach = folder / "workspaces"
        assert probe(str(fake), None, reach) is None
        args = (folder / "args").read_text().splitlines()
        expected = [*Sandbox(str(fake)).base_args()[1:], "--ro-bind", str(reach), str(reach)]
        assert args == [*expected, "--remount-ro", "/", "--", "true"]
        assert probe(str(fake)) is None
        assert (folder / "args").read_text().splitlines()[-4:] == [
            "--remount-ro",
            "/",
            "--",
            "true",
        ]
        assert (
            "--ro-bind"
            not in (folder / "args").read_text().splitlines()[len(system) + 5 + len(ETC_ARGS) :]
        )


def test_probe_runs_as_the_commands_user_without_groups() -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can start the probe as another user")
    for folder in reachable_folder():
        folder.chmod(0o777)
        fake = _fake_bwrap(folder, 0)
        assert probe(str(fake), NOBODY) is None
        assert (folder / "uid").read_text().split() == ["65534"]
        assert (folder / "gid").read_text().split() == ["65534"]
        assert (folder / "groups").read_text().split() == ["65534"]


def test_probe_reads_no_input_is_bounded_in_time_and_drops_every_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the user: no terminal input to wait on, a hung bwrap cannot hold start-up, a
    failure is an answer (not an exception), and as another user no group of the operator's."""
    calls: list[dict[str, object]] = []

    def fake_run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(kwargs)
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(sandbox_module.subprocess, "run", fake_run)
    assert probe("/x/bwrap", NOBODY) is None
    assert probe("/x/bwrap") is None
    common = {
        "stdin": subprocess.DEVNULL,
        "capture_output": True,
        "timeout": PROBE_TIMEOUT_SECONDS,
        "check": False,
    }
    assert calls == [
        {**common, "user": 65534, "group": 65534, "extra_groups": []},
        {**common, "user": None, "group": None, "extra_groups": None},
    ]


def test_a_probe_that_hangs_is_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def hung(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        raise subprocess.TimeoutExpired(args[:1], PROBE_TIMEOUT_SECONDS)

    monkeypatch.setattr(sandbox_module.subprocess, "run", hung)
    assert probe("/x/bwrap") == "Command '['/x/bwrap']' timed out after 10.0 seconds"


def test_probe_says_why_bwrap_failed() -> None:
    for folder in reachable_folder():
        assert probe(str(_fake_bwrap(folder, 1, "bwrap: no namespaces"))) == "bwrap: no namespaces"
        silent = _fake_bwrap(folder, 3)
        assert probe(str(silent)) == f"{silent} exited with code 3"
        long = _fake_bwrap(folder, 1, "x" * 400 + "\\n")
        assert probe(str(long)) == "x" * 300
        assert probe(str(folder / "absent")) == (
            f"[Errno 2] No such file or directory: '{folder / 'absent'}'"
        )


def test_probe_names_the_folder_the_user_cannot_pass() -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can start the probe as another user")
    for folder in reachable_folder():
        folder.chmod(0o777)
        fake = _fake_bwrap(folder, 1, "bwrap: cannot bind")
        closed = folder / "closed"
        closed.mkdir(mode=0o700)
        reach = closed / "workspaces"
        reach.mkdir()
        assert probe(str(fake), NOBODY, reach) == (
            f"bwrap: cannot bind (uid 65534 cannot pass through {closed}: give it o+x, or set "
            "HBO_DATA_DIR to a folder it can reach)"
        )
        assert probe(str(fake), NOBODY, folder) == "bwrap: cannot bind"
        assert probe(str(fake), None, reach) == "bwrap: cannot bind"


def test_a_folder_is_passable_by_its_owner_group_or_others_bit() -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give folders to other users")
    cases = [  # (owner, group), mode, passable for NOBODY
        ((65534, 0), 0o100, True),
        ((65534, 0), 0o011, False),
        ((0, 65534), 0o010, True),
        ((0, 65534), 0o101, False),
        ((0, 0), 0o001, True),
        ((0, 0), 0o110, False),
    ]
    for base in reachable_folder():
        for i, ((uid, gid), mode, passable) in enumerate(cases):
            folder = base / str(i)
            folder.mkdir()
            os.chown(folder, uid, gid)
            folder.chmod(mode)
            expected = None if passable else folder
            assert unreachable_parent(folder / "x", NOBODY) == expected, (uid, gid, oct(mode))
            assert unreachable_parent(folder, NOBODY) == expected  # the path itself counts
        assert unreachable_parent(base, NOBODY) is None


# --- secrets file and the plain-mode notice --------------------------------------------------


def test_a_readable_secrets_file_is_closed_to_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TELEGRAM_BOT_TOKEN=x")
    dotenv.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="activities.sandbox"):
        assert close_secret_file(dotenv) is True
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    assert f"{dotenv} was readable by other users; now 0o600 (owner only)" in caplog.text
    assert close_secret_file(dotenv) is False  # already closed
    assert close_secret_file(tmp_path / "missing") is False
    link = tmp_path / "link"
    link.symlink_to(dotenv)
    dotenv.chmod(0o640)
    assert close_secret_file(link) is False  # a link is not followed
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o640
    assert close_secret_file(tmp_path) is False  # not a regular file


def test_the_plain_mode_notice_is_told_once_per_chat(tmp_path: Path) -> None:
    plain = Sandbox(setting="none", run_as=NOBODY)
    told = plain_mode_notice(plain, tmp_path, "chat-1", "job-a")
    assert told == PLAIN_MODE_NOTICE.format(setting="none", user="uid 65534")
    assert plain_mode_notice(plain, tmp_path, "chat-1", "job-a") == told  # a retry of that job
    assert plain_mode_notice(plain, tmp_path, "chat-1", "job-b") == ""
    assert plain_mode_notice(plain, tmp_path, "chat-2", "job-c") == told
    folder = tmp_path / sandbox_module.NOTICES_FOLDER
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert plain_mode_notice(Sandbox("/x/bwrap"), tmp_path, "chat-3", "job-d") == ""
    assert not (folder / "chat-3").exists()


def test_a_notice_that_cannot_be_recorded_is_still_told_and_the_operator_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    plain = Sandbox(setting="auto", run_as=NOBODY)
    with caplog.at_level(logging.WARNING, logger="activities.sandbox"):
        told = plain_mode_notice(plain, not_a_folder, "chat-1", "job-a")
    assert told == PLAIN_MODE_NOTICE.format(setting="auto", user="uid 65534")
    folder = not_a_folder / sandbox_module.NOTICES_FOLDER
    assert [r.getMessage() for r in caplog.records] == [
        f"plain-mode notice not recorded for chat-1: [Errno 20] Not a directory: '{folder}'"
    ]


def test_as_root_plain_and_refused_commands_still_run_as_the_set_user(
    probes: FakeProbe, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 0)
    probes.answer = "bwrap: No permission"
    for data in reachable_folder():
        plain = choose_sandbox(make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX="none"))
        assert plain.run_as == NOBODY
        refused = choose_sandbox(
            make_settings(
                data, "127.0.0.1:1", EXECUTION_SANDBOX="bwrap", EXECUTION_SANDBOX_BWRAP="/x/bwrap"
            )
        )
        assert refused.mode == "refused" and refused.run_as == NOBODY
        probes.answer = None
        with caplog.at_level(logging.INFO, logger="activities.sandbox"):
            chosen = choose_sandbox(
                make_settings(data, "127.0.0.1:1", EXECUTION_SANDBOX_BWRAP="/y")
            )
        assert chosen.run_as == NOBODY
        assert (
            "EXECUTION_SANDBOX=auto: commands run under bubblewrap (/y), as uid 65534, no network"
            in caplog.text
        )


def test_probe_output_that_is_not_utf8_is_still_told() -> None:
    for folder in reachable_folder():
        fake = _fake_bwrap(folder, 1, "bad \\377 byte")
        assert probe(str(fake)) == "bad \ufffd byte"

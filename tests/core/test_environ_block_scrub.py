"""`scrub_environ_block` overwrites secret values in the process's initial environment block
(what `/proc/<pid>/environ` shows to root) and leaves everything else, `os.environ` included.

It rewrites the calling process's own memory, so the real check runs in a child process that
imports the module the test imported (under `make mutate`, mutmut's copy, and the inherited
`MUTANT_UNDER_TEST` selects the same mutant there) and reports its own `/proc/self/environ`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import core.io.process as process_module
from core.io.process import scrub_environ_block

SECRET = "sk-environ-block-secret-4f2a"
CHILD = """
import ctypes, json, os, sys
from core.io.process import scrub_environ_block
if os.environ.get("HBO_TEST_COMM"):  # PR_SET_NAME: the name /proc/self/stat shows in (...)
    ctypes.CDLL("libc.so.6").prctl(15, os.environ["HBO_TEST_COMM"].encode(), 0, 0, 0)
done = scrub_environ_block(sys.argv[1:])
with open("/proc/self/environ", "rb") as f:
    block = f.read()
print(json.dumps({
    "done": done,
    "block": block.decode("latin-1"),
    "os_environ": os.environ.get("HBO_TEST_SECRET"),
}))
"""


def _child(names: list[str], extra_env: dict[str, str]) -> dict[str, object]:
    # In this process too, with a name it does not have: nothing is found, nothing written.
    # (This call is also what tells mutmut that the test reaches the function.)
    assert scrub_environ_block(["HBO_TEST_NAME_THAT_IS_NOT_SET_9c1d"]) == []
    # The package root the test imported `core` from: the repository, or mutmut's mutants/.
    root = Path(process_module.__file__).resolve().parents[2]
    env = {**os.environ, **extra_env, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *names],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def _entries(block: str) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in block.split("\0") if "=" in entry)


def test_a_named_secret_is_starred_in_the_block_and_kept_in_os_environ() -> None:
    result = _child(
        ["HBO_TEST_SECRET", "HBO_TEST_EMPTY", "HBO_TEST_ABSENT"],
        {
            "HBO_TEST_SECRET": SECRET,
            "HBO_TEST_EMPTY": "",
            "HBO_TEST_SECRET_OLD": "kept-value",
            "HBO_TEST_PLAIN": "plain-value",
        },
    )
    assert result["done"] == ["HBO_TEST_SECRET"]
    block = str(result["block"])
    assert SECRET not in block
    entries = _entries(block)
    assert entries["HBO_TEST_SECRET"] == "*" * len(SECRET)
    assert entries["HBO_TEST_EMPTY"] == ""
    assert entries["HBO_TEST_SECRET_OLD"] == "kept-value"
    assert entries["HBO_TEST_PLAIN"] == "plain-value"

    # Every other entry is as it was: the block was written back in place, nothing shifted.
    def others(env: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if not k.startswith("HBO_TEST_") and k != "PYTHONPATH"}

    assert others(entries) == others(dict(os.environ))
    assert result["os_environ"] == SECRET  # the process's own copy is left alone


def test_several_secrets_are_scrubbed_and_named_in_block_order() -> None:
    result = _child(
        ["HBO_TEST_B", "HBO_TEST_A"],
        {"HBO_TEST_A": "first-secret", "HBO_TEST_B": "second-secret"},
    )
    assert sorted(result["done"]) == ["HBO_TEST_A", "HBO_TEST_B"]  # type: ignore[arg-type]
    entries = _entries(str(result["block"]))
    assert entries["HBO_TEST_A"] == "*" * len("first-secret")
    assert entries["HBO_TEST_B"] == "*" * len("second-secret")


def test_a_process_name_with_parentheses_does_not_mislead_the_scrub() -> None:
    # /proc/self/stat is "pid (name) state ...": the name may hold ") " itself.
    result = _child(
        ["HBO_TEST_SECRET"],
        {"HBO_TEST_SECRET": SECRET, "HBO_TEST_COMM": "a) 1 2 (b) 3"},
    )
    assert result["done"] == ["HBO_TEST_SECRET"]
    assert _entries(str(result["block"]))["HBO_TEST_SECRET"] == "*" * len(SECRET)


def test_a_value_holding_an_equals_sign_is_scrubbed_whole() -> None:
    result = _child(["HBO_TEST_SECRET"], {"HBO_TEST_SECRET": "user=admin=pw"})
    assert result["done"] == ["HBO_TEST_SECRET"]
    assert _entries(str(result["block"]))["HBO_TEST_SECRET"] == "*" * len("user=admin=pw")

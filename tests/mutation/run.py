"""`make mutate`: mutation testing of the modules that hold the product's promises.

Runs mutmut (decision record 050) over the modules below with the fast tests listed under
`[tool.mutmut]` in pyproject.toml, on `--max-children` cores, then prints the score of each
module and every mutant that no test killed. A mutant listed in `equivalent.toml` (beside this
file) with the reason it cannot change behaviour is not counted against its module.

    python tests/mutation/run.py                 # every module, from a fresh copy
    python tests/mutation/run.py ledger ids      # only these modules
    python tests/mutation/run.py --report        # the last run's results again, nothing run

The score is killed / (mutants - equivalent); a mutant that no selected test even calls counts
as surviving. Exit status 1 when a module is below `--goal` (90 % by default).
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT_FILE = Path(__file__).with_name("equivalent.toml")


@dataclass(frozen=True)
class Module:
    name: str  # what the promise is called in the report
    path: str  # as listed in [tool.mutmut] only_mutate
    # Functions whose mutants are judged (mutmut's `x_<function>` / `xǁ<Class>ǁ<method>`
    # names); empty: the whole module. Used where a module holds more than the promise.
    functions: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def globs(self) -> list[str]:
        if not self.functions:
            return [f"{self.dotted}.*"]
        return [f"{self.dotted}.{function}__mutmut_*" for function in self.functions]

    def covers(self, mutant: str) -> bool:
        if not mutant.startswith(self.dotted + "."):
            return False
        local = mutant[len(self.dotted) + 1 :]
        return not self.functions or any(
            fnmatch.fnmatchcase(local, f"{f}__mutmut_*") for f in self.functions
        )


MODULES = [
    Module("ledger", "core/io/ledger.py", ("xǁReportLedgerStoreǁ*",)),
    Module("approval", "core/domain/jobs/approval.py"),
    Module("ssrf", "activities/research_fetch.py"),
    Module("workspace", "core/io/workspace.py"),
    Module(
        "secrets-env",
        "core/io/process.py",
        ("x_secret_free_env", "x_scrub_environ_block", "x__scrubbed"),
    ),
    Module(
        "redaction",
        "core/io/logs.py",
        (
            "x__redact",
            "xǁRedactSecretsǁ*",
            "xǁRedactingFormatterǁ*",
            "xǁJsonFormatterǁ*",
            "x_secrets_of",
        ),
    ),
    Module("sandbox", "activities/sandbox.py"),
    Module("quiet", "core/domain/heartbeat/quiet.py"),
    Module("ack", "core/domain/heartbeat/ack.py"),
    Module("duplicates", "core/domain/heartbeat/duplicates.py"),
    Module("ids", "core/domain/ids.py"),
]

KILLED = {"killed", "timeout", "caught by type check"}


@dataclass
class Score:
    module: Module
    killed: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)

    @property
    def judged(self) -> int:
        return len(self.killed) + len(self.survived) + len(self.other)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.killed) / self.judged if self.judged else 100.0


def mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=ROOT, text=True, capture_output=True)


def results() -> dict[str, str]:
    """Mutant name -> status, from mutmut's files under mutants/."""
    done = mutmut("results", "--all", "true")
    out: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            out[name] = status
    return out


def equivalents() -> dict[str, str]:
    if not EQUIVALENT_FILE.exists():
        return {}
    return {k: str(v) for k, v in tomllib.loads(EQUIVALENT_FILE.read_text()).items()}


def score(modules: list[Module], statuses: dict[str, str]) -> list[Score]:
    known = equivalents()
    scores = []
    for module in modules:
        s = Score(module)
        for name, status in sorted(statuses.items()):
            if not module.covers(name):
                continue
            if status in KILLED:
                s.killed.append(name)
            elif name in known:
                s.equivalent.append(name)
            elif status == "survived":
                s.survived.append(name)
            else:  # "no tests", "suspicious", "segfault", "not checked", ...
                s.other.append((name, status))
        scores.append(s)
    return scores


def report(scores: list[Score], goal: float, show_diffs: bool) -> bool:
    print(f"\n{'module':<12} {'file':<30} {'killed':>6} {'surv.':>6} {'equiv.':>6} {'score':>7}")
    for s in scores:
        missed = len(s.survived) + len(s.other)
        print(
            f"{s.module.name:<12} {s.module.path:<30} {len(s.killed):>6} {missed:>6} "
            f"{len(s.equivalent):>6} {s.percent:>6.1f}%"
        )
    ok = all(s.percent >= goal for s in scores)
    for s in scores:
        left = [(name, "survived") for name in s.survived] + s.other
        if not left:
            continue
        print(f"\n--- {s.module.name} ({s.module.path}): {len(left)} not killed")
        for name, status in left:
            print(f"  {name}: {status}")
            if show_diffs:
                diff = mutmut("show", name).stdout.splitlines()
                for line in diff[4:]:
                    if line.startswith(("+", "-")):
                        print(f"      {line}")
    print(f"\ngoal: {goal:.0f} % killed per module: {'met' if ok else 'NOT met'}")
    print("equivalent mutants and why: tests/mutation/equivalent.toml (docs/mutation.md)")
    return ok


def selected_tests_collect() -> bool:
    """Whether pytest finds every test `[tool.mutmut]` selects. A renamed test makes mutmut
    stop with an error that hides which name is stale, so ask pytest first and show its words."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    selection = config.get("pytest_add_cli_args_test_selection", [])
    extra = config.get("pytest_add_cli_args", [])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *extra, *selection],
        cwd=ROOT,
        text=True,
        capture_output=True,
    )
    if done.returncode != 0:
        print((done.stdout + done.stderr)[-4000:])
        print("the tests selected under [tool.mutmut] in pyproject.toml do not all exist")
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all)")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--goal", type=float, default=90.0)
    parser.add_argument("--report", action="store_true", help="report the last run only")
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ (incremental)")
    parser.add_argument("--no-diffs", action="store_true")
    args = parser.parse_args(argv)
    by_name = {m.name: m for m in MODULES}
    unknown = [name for name in args.modules if name not in by_name]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {', '.join(by_name)}")
    chosen = [by_name[name] for name in args.modules] or MODULES
    if not args.report:
        if not selected_tests_collect():
            return 2
        if not args.keep:
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        globs = [g for m in chosen for g in m.globs()]
        command = ["run", "--max-children", str(args.max_children), *globs]
        print("mutmut " + " ".join(command), flush=True)
        started = time.monotonic()
        done = subprocess.run(
            [str(Path(sys.executable).with_name("mutmut")), *command],
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        print(f"mutmut took {time.monotonic() - started:.0f} s on {args.max_children} cores")
        tail = done.stdout.replace("\r", "\n").splitlines()
        print("\n".join(line for line in tail[-8:] if "/s" in line or "Failed" in line))
        if done.returncode != 0:
            print(done.stdout[-4000:])
            print(f"mutmut failed with exit status {done.returncode}")
            return done.returncode
    return 0 if report(score(chosen, results()), args.goal, not args.no_diffs) else 1


if __name__ == "__main__":
    sys.exit(main())

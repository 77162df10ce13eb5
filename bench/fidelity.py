"""Fidelity under chaos: is every result told once, right away, to the right chat?

    .venv/bin/python bench/fidelity.py --jobs N --kills K --out DIR

Deploys like production on one machine (a Temporal dev server on a data file; the app database
on PostgreSQL when 127.0.0.1:5432 answers, else SQLite; `hbo worker --queue execution` ×2,
`--queue research`, `--queue reporting`, `--queue operator` ×2 and `hbo bot` as separate OS
processes; the bot on a Bot API emulator), runs a compressed scripted day (bench/_fidelity/
scenario.py) while injecting 429/502 on every send and edit, SIGKILLing processes and restarting
the dev server, waits (bounded) for quiescence, and judges every message the emulator received
against Temporal's own histories (bench/_fidelity/judge.py).

Writes DIR/report.md, DIR/timeline.png, DIR/kills.csv (every kill: time, role, pid, process,
the ledger claims live just before it) and DIR/sends.csv (every send and edit: time, chat,
method, status, whether an error answer hid a delivery, the message an edit names, whether it
was answered "message is not modified", whether it was a live card's refresh, the first line of
its text), and ends with
one line:

    fidelity: jobs N, kills K, lost L, duplicated D (designed: kill A, 5xx B), misrouted M, ...

Exit status 0 exactly when the hard rules hold: nothing lost or misrouted, no silent-policy or
quiet-hour violation, no leak, every repeat designed (a kill of its sender or a 5xx that hid
its delivery between the send and the ledger's confirm), every job finished, no edit answered
"message is not modified" unless the same edit had taken effect unbeknown to its sender (a
hidden 5xx, a kill), no live card refresh sent while its group's last 60 s already held 20
messages and edits (bench/_fidelity/edits.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fidelity.deploy import ROLES, deployment
from bench._fidelity.judge import JobTruth, Verdict, judge, load_truth
from bench._fidelity.report import Fault, RunFacts, markdown, timeline, write_records
from bench._fidelity.scenario import (
    Config,
    Scenario,
    deployment_env,
    llm_script,
    plan_day,
)
from core.io.db import Database
from core.io.settings import Settings
from core.io.tables import ReportLedger
from tests.support.botapi import BotApiEmulator
from tests.support.llm_server import ScriptedLLM, text

log = logging.getLogger("fidelity")

SUMMARY_TEXT = "Scripted summary: the job did what it was asked."
QUIET_SECONDS = 15.0  # no new message for this long (and nothing lost): the run has settled


@dataclass
class Outcome:
    verdict: Verdict
    report: Path
    picture: Path


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def run(config: Config, command: str = "") -> Outcome:
    config.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="hbo-fidelity-") as tmp:
        data = Path(tmp)
        async with (
            BotApiEmulator(token=deployment_env_token()) as emu,
            llm_script() as llm,
            summary_model() as summarizer,
        ):
            targets = config.targets
            env = deployment_env(emu, targets)
            async with deployment(data, env, sqlite=config.sqlite) as (deploy, db):
                _say(f"dev server {deploy.server.target}; app database on {deploy.dialect}")
                settings = Settings(_env_file=None, **deploy.env)  # type: ignore[call-arg, arg-type]
                for target in targets:
                    emu.add_chat(
                        target.chat_id, target.chat_type, is_forum=target.topic_id is not None
                    )
                # Only the operator worker runs the heartbeat agent: only it talks to the LLM.
                llm_env = {"OPENAI_API_KEY": "sk-scripted", "OPENAI_BASE_URL": llm.base_url}
                # The reporting worker asks its own scripted model for job summaries (told
                # after each result, edited into it): a model in the loop of every long output.
                summary_env = {
                    "OPENAI_API_KEY": "sk-scripted",
                    "OPENAI_BASE_URL": summarizer.base_url,
                }
                await deploy.start_roles(llm_env, summary_env)
                supervisor = asyncio.create_task(deploy.supervise())
                scenario = Scenario(config, deploy, db, emu, llm, settings)
                stop_react = asyncio.Event()
                reactor = asyncio.create_task(scenario.react(stop_react))
                watcher = asyncio.create_task(scenario.watch_ledger(stop_react))
                try:
                    await scenario.setup()
                    _say("targets ready (heartbeats on, quiet hours, LLM prompt, schedules)")
                    plan = plan_day(config, scenario.rng)
                    duration = max(plan[-1].at, 1.0)
                    scenario.faults_on()
                    _say(f"the day: {len(plan)} jobs over {duration:.0f} s, {config.kills} kills")
                    chaos = asyncio.create_task(scenario.chaos(duration))
                    await scenario.run_day(plan)
                    await chaos
                    _say(f"day over: {scenario.kills_done} kills; waiting for every job to close")
                    await scenario.end_day()
                    _say(f"closed ({scenario.day.unclosed} still running); reading histories")
                    truths = await load_truth(deploy.client)  # type: ignore[arg-type]
                    verdict = await settle(scenario, truths, config)
                    summaries = await summary_outcomes(db)
                finally:
                    stop_react.set()
                    await asyncio.gather(reactor, watcher, return_exceptions=True)
                    supervisor.cancel()
                    await scenario.close()
                    await deploy.stop_roles()
                events = list(deploy.events)
                kills = scenario.kill_records()
                attempts = scenario.send_attempts()
                deliveries = scenario.deliveries()
                faults = [
                    Fault(scenario.wall(c.at), c.status, c.applied)
                    for c in emu.calls
                    if c.status in (429, 500, 502, 503, 504)
                ]
                facts = RunFacts(
                    command=command,
                    database=("PostgreSQL" if deploy.dialect == "postgresql" else "SQLite"),
                    processes=[f"hbo {' '.join(args)}" for _, args in ROLES],
                    targets=[
                        t.label + (" (q)" if t.quiet else "") + (" (llm)" if t.llm else "")
                        for t in targets
                    ],
                    started=started,
                    day_end=scenario.day.day_end,
                    closed_at=scenario.day.closed_at,
                    finished=time.time(),
                    asked=scenario.day.asked,
                    api_started=scenario.day.api_started,
                    api_failed=scenario.day.api_failed,
                    presses=scenario.day.presses,
                    schedules=len(scenario.day.schedules),
                    calls=len(emu.calls),
                    llm_requests=len(llm.requests),
                    summaries_added=summaries.get("added", 0),
                    summaries_skipped=summaries.get("skipped", 0),
                )
            shutil.copytree(data / "logs", config.out / "logs", dirs_exist_ok=True)
    report, picture = config.out / "report.md", config.out / "timeline.png"
    timeline(picture, verdict, facts, events, faults, deliveries, truths, verdict.lost_jobs)
    markdown(report, picture, verdict, facts, events, faults, kills)
    write_records(config.out, kills, attempts, verdict.result_points)
    return Outcome(verdict, report, picture)


async def settle(scenario: Scenario, truths: list[JobTruth], config: Config) -> Verdict:
    """Judge until nothing is missing and the chats have been quiet for a moment, or the settle
    time is over (a message held by a crashed claim may still come from the heartbeat)."""
    deadline = time.monotonic() + config.settle
    while True:
        verdict = judge(
            truths,
            scenario.deliveries(),
            waits=scenario.waits(),
            quiet=scenario.day.quiet,
            kills=scenario.kill_records(),
            attempts=scenario.send_attempts(),
            confirms=scenario.confirm_records(),
            server_restarts=scenario.server_restarts(),
        )
        sent = scenario.emu.sent
        idle = time.monotonic() - sent[-1].at if sent else QUIET_SECONDS
        if (verdict.lost == 0 and idle >= QUIET_SECONDS) or time.monotonic() >= deadline:
            return verdict
        await asyncio.sleep(3.0)


def summary_model() -> ScriptedLLM:
    """The reporting worker's model: the same short summary for every job, after a moment."""
    return ScriptedLLM([text(SUMMARY_TEXT)], repeat_last=True, delay=0.3)


async def summary_outcomes(db: Database) -> dict[str, int]:
    """How many job summaries the ledger records as added, and as skipped (after a crash
    stopped an attempt midway, or an undeliverable follow-up)."""
    async with db.session() as session:
        rows = await session.execute(
            select(ReportLedger.summary, func.count())
            .where(ReportLedger.summary.in_(("added", "skipped")))
            .group_by(ReportLedger.summary)
        )
        return {str(outcome): int(count) for outcome, count in rows.all()}


def deployment_env_token() -> str:
    from tests.support.stack import TEST_TOKEN

    return TEST_TOKEN


def parse_args(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the day (default 1000)")
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs (default 100)")
    parser.add_argument("--out", type=Path, default=Path("fidelity-report"), help="report folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=2.0, help="jobs asked for per second")
    parser.add_argument("--settle", type=float, default=150.0, help="seconds for stragglers")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    parser.add_argument("--no-server-restart", action="store_true")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.kills < 0 or args.rate <= 0:
        parser.error("--jobs must be ≥ 1, --kills ≥ 0, --rate > 0")
    return Config(
        jobs=args.jobs,
        kills=args.kills,
        out=args.out,
        seed=args.seed,
        rate=args.rate,
        settle=args.settle,
        sqlite=args.sqlite,
        server_restart=not args.no_server_restart,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # A killed client drops its request mid-way: the emulator's server logs that; it is chaos.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    command = " ".join([".venv/bin/python bench/fidelity.py", *map(shlex.quote, argv)])
    with contextlib.suppress(KeyboardInterrupt):
        outcome = asyncio.run(run(config, command))
        _say(f"report: {outcome.report} · timeline: {outcome.picture}")
        print(outcome.verdict.line(), flush=True)
        return 0 if outcome.verdict.ok else 1
    return 130


if __name__ == "__main__":
    sys.exit(main())

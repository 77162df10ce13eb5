"""The `hbo` command line: parse, prepare the process (secrets kept to itself, settings,
logging), dispatch to a command, and turn start-up failures into one clear line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from activities.sandbox import close_secret_file
from bot.heartbeat import cli as heartbeat_cli
from core.io.devserver import DevServerError
from core.io.health import OpsPortError
from core.io.logs import setup_logging
from core.io.process import scrub_environ_block, set_not_dumpable
from core.io.settings import SECRET_ENV_NAMES, load_settings
from hbo import isolated_worker
from hbo.commands import cmd_bot, cmd_up, cmd_worker
from hbo.lifecycle import leave
from hbo.workers import heartbeat_private_chats


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hbo", description="Heartbeat Operator")
    # `isolated-worker` is internal (the execution queue's child process): not listed.
    sub = parser.add_subparsers(dest="command", required=True, metavar="{up,worker,bot,heartbeat}")
    sub.add_parser("up", help="dev server + all workers + bot (or console chat) in one process")
    worker = sub.add_parser("worker", help="run Temporal workers")
    worker.add_argument(
        "--queue",
        action="append",
        help="task queue to poll (repeatable; default: operator + every registered worker's)",
    )
    sub.add_parser("bot", help="run the Telegram bot (or console chat) only")
    isolated_worker.add_arguments(sub.add_parser("isolated-worker"))
    heartbeat_cli.add_parser(sub)
    if argv and argv[0].startswith("--queue"):  # `python worker_main.py --queue execution`
        argv = ["worker", *argv]
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The `hbo` program. Run as the program itself (no `argv` given), it leaves without the
    interpreter's teardown once everything is stopped: see `lifecycle.leave`."""
    code = run(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        leave(code)
    return code


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    set_not_dumpable()  # this process may hold the secrets: keep /proc/<pid>/* to itself
    scrub_environ_block(SECRET_ENV_NAMES)  # and out of /proc/<pid>/environ, even for root
    if args.command == "isolated-worker":
        return isolated_worker.run(args)
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings, to_file=args.command == "up" and settings.console_mode)
    # This process holds the secrets: so should `.env` alone (commands never run as this user
    # when it is root, and other local users have no business reading it either).
    close_secret_file(Path(".env"))
    if args.command == "heartbeat":
        # A CLI answer comes first: the migration check at start-up is not news.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "up":
            return asyncio.run(cmd_up(settings))
        if args.command == "worker":
            return asyncio.run(cmd_worker(settings, args.queue))
        if args.command == "heartbeat":
            return asyncio.run(
                heartbeat_cli.run(settings, args, private=heartbeat_private_chats(settings))
            )
        return asyncio.run(cmd_bot(settings))
    except (DevServerError, OpsPortError) as exc:
        print(f"Cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    except RuntimeError as exc:
        if not str(exc).startswith("Failed client connect"):
            raise
        where = settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"
        print(
            f"Cannot reach Temporal at {where}: start it with `hbo up` (which embeds a dev "
            "server), or set TEMPORAL_ADDRESS to a running server.",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except KeyboardInterrupt:
        return 130

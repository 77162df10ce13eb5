"""Process entry point (`hbo`): the embedded stack, the workers, the bot.

hbo up                      dev server (unless TEMPORAL_ADDRESS) + all workers + bot/console
hbo worker [--queue NAME]   Temporal workers for some task queues (default: all)
hbo isolated-worker …       (internal) the execution queue's child process, without secrets
hbo bot                     the Telegram bot only (a Temporal client)
hbo heartbeat …             heartbeat targets: list, show, set, on/off, fire, infer
python worker_main.py --queue execution   same as `hbo worker --queue execution`

The execution queue (commands) never runs in a process that holds the bot token or API keys:
`hbo up` and `hbo worker` run it in a supervised child started with an environment and settings
without them (settings come over its stdin, never from `.env`).

Only the entry: the program is the `hbo` package (`hbo/cli.py` and the modules it dispatches to).
"""

from __future__ import annotations

import sys

from hbo.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())

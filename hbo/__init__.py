"""The `hbo` program behind `worker_main.py`: the composition root, above every layer.

`cli` parses and dispatches; `commands` runs `up`, `worker` and `bot`; `runtime` holds one
process's shared resources; `workers` says what each task queue's worker runs; `isolated` starts
the secret-free child that `isolated_worker` is; `ops` serves `/metrics` and health;
`lifecycle` is signals, the one "until stopped or one ends" wait, and leaving. Nothing in
`core`, `workflows`, `activities` or `bot` imports this package.

Kept empty of imports (but for the one guard below): the isolated child imports
`hbo.isolated_worker` and must not pay for the rest (its memory, see
docs/decisions/053-repeats-judged-by-cause-and-a-lean-execution-child.md).
"""

import sys

# httpx imports its command-line client (`httpx._main`) whenever rich, click and pygments are
# installed, as the dev tools install them: ~6 MB of modules in a process that only makes
# requests. An entry of None makes that import fail, and httpx then goes without it (its
# `httpx.main` says the CLI is unavailable); nothing here runs the httpx CLI.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

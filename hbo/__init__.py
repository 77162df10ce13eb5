"""The `hbo` program behind `worker_main.py`: the composition root, above every layer.

`cli` parses and dispatches; `commands` runs `up`, `worker` and `bot`; `runtime` holds one
process's shared resources; `workers` says what each task queue's worker runs; `isolated` starts
the secret-free child that `isolated_worker` is; `ops` serves `/metrics` and health;
`lifecycle` is signals, the one "until stopped or one ends" wait, and leaving. Nothing in
`core`, `workflows`, `activities` or `bot` imports this package.

Kept empty of imports: the isolated child imports `hbo.isolated_worker` and must not pay for the
rest (its memory, see docs/decisions/053-repeats-judged-by-cause-and-a-lean-execution-child.md).
"""

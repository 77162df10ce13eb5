"""Shared models, rules and I/O in two layers: `core.domain` (pure; the only part workflows
import) and `core.io` (configuration, storage, Temporal clients, the model client, processes and
the ops server), which may import `core.domain` and never the reverse."""

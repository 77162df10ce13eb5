"""The heartbeat's storage, each target's Temporal Schedule and the checklist template
shipped with the package."""

"""The heartbeat's storage, each target's Temporal Schedule and the defaults read from the
settings and the package."""

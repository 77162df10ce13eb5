"""The heartbeat's rules and storage: targets, settings, guards, quiet hours, the prompt and
preamble, the ack token, duplicates, and each target's Temporal Schedule."""

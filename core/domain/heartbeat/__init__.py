"""The heartbeat's rules: targets, settings, guards, quiet hours, the prompt and preamble,
the ack token, duplicates, repetition, triggers and the schedule spec."""

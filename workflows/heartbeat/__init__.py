"""The heartbeat's workflows: one run for one target, and the built-in job digest."""

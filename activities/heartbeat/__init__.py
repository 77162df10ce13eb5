"""The heartbeat's side effects: preparing a run, job changes told once, the agent, the job
digest, and checking that a group target is reachable."""

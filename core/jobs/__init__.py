"""Jobs: the models, the planner, the approval rule, the card and messages, and the client side
of Temporal for them (start and act on a job, recurring jobs as schedules, every visibility
query and state map)."""

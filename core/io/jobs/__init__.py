"""The client side of Temporal for jobs: start and act on a job, recurring jobs as schedules,
a job's timeline read from its history."""

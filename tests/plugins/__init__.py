"""Worker plugins used by the tests (discovered via HBO_WORKER_PLUGINS, like a user's)."""

"""Every side effect lives here: subprocesses, HTTP, the database, Telegram, the LLM."""

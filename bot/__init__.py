"""The chat side: a transport-agnostic operator plus Telegram and console transports."""

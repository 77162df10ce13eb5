"""Heartbeat administration from the chat (`/heartbeat`) and the shell (`hbo heartbeat`)."""

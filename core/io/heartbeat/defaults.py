"""A heartbeat's default checklist: the template shipped with the package, read from its files."""

from __future__ import annotations

from importlib import resources


def default_checklist_template() -> str:
    return resources.files("core").joinpath("templates/HEARTBEAT.md").read_text(encoding="utf-8")

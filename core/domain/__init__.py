"""The pure layer: models and rules with no I/O (no storage, network, clock, process or
configuration loading). Workflows import only this part of `core`."""

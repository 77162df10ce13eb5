"""Refusals: errors whose message is the answer a person gets.

A command refuses with a `Refusal` when the request cannot be done as asked (no such job, a
job that is not running, a plan that does not parse); its message says why and is meant for
the person. Chat front ends show a refusal as it is and catch nothing broader: any other
exception is a fault, logged with its traceback, and the person gets one generic line.
"""

from __future__ import annotations


class Refusal(Exception):
    """The request cannot be done as asked; the message (plain text) tells the person why."""

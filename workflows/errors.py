"""How a failure reads in a job's or a heartbeat's messages."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError


def error_text(err: BaseException) -> str:
    """The innermost cause of an activity or child-workflow failure, as `Type: message` when
    the activity named its error type (e.g. `BadCommand: exit 2`)."""
    cause: BaseException | None = err
    while isinstance(cause, ActivityError | ChildWorkflowError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause) or type(cause).__name__

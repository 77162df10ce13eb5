"""The redacting log formatters, fast and without a server: what each of them writes, which
values count as secrets (six characters and more: a shorter value is too common a string to
blank out of every line), and the JSON line's field names that log tooling reads."""

from __future__ import annotations

import json
import logging

from core.io.logs import JsonFormatter, RedactingFormatter, RedactSecrets

SECRET = "tok-9f8e7d6c"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("hbo.test", logging.WARNING, "f.py", 1, msg, args, None)


def test_the_filter_rewrites_a_message_that_carries_a_secret() -> None:
    record = _record("calling bot%s/getMe", SECRET)
    assert RedactSecrets([SECRET]).filter(record) is True
    assert record.getMessage() == "calling bot[REDACTED]/getMe"
    assert record.args is None
    clean = _record("nothing %s here", "secret")
    RedactSecrets([SECRET]).filter(clean)
    assert (clean.msg, clean.args) == ("nothing %s here", ("secret",))  # left as it was


def test_six_characters_are_a_secret_five_are_not() -> None:
    six, five = "abc123", "xyz98"
    text = f"{six} and {five}"
    record = _record(text)
    RedactSecrets([six, five, ""]).filter(record)
    assert record.getMessage() == "[REDACTED] and xyz98"
    plain = RedactingFormatter("%(message)s", [six, five, ""]).format(_record(text))
    assert plain == "[REDACTED] and xyz98"
    line = json.loads(JsonFormatter([six, five, ""]).format(_record(text)))
    assert line["message"] == "[REDACTED] and xyz98"


def test_the_text_format_is_the_one_given() -> None:
    formatter = RedactingFormatter("%(levelname)s %(name)s: %(message)s", [SECRET])
    assert formatter.format(_record("key %s", SECRET)) == "WARNING hbo.test: key [REDACTED]"


def test_a_json_line_names_its_fields_for_log_tools() -> None:
    record = _record("Grüße, %s ✅", SECRET)
    record.taskName = "Task-7"
    record.temporal_workflow = {"workflow_id": "job-abc123", "workflow_type": "JobWorkflow"}
    record.temporal_activity = {"activity_id": "3", "activity_type": "notify"}
    text = JsonFormatter([SECRET]).format(record)
    assert "Grüße" in text and "✅" in text  # written as is, not as \u escapes
    line = json.loads(text)
    assert line["level"] == "WARNING" and line["logger"] == "hbo.test"
    assert line["message"] == "Grüße, [REDACTED] ✅"
    assert line["time"].startswith("20") and line["time"].endswith("+00:00")
    assert "levelname" not in line and "name" not in line
    # Temporal's details become the ids, never nested copies; the asyncio task name is noise.
    assert line["workflow_id"] == "job-abc123" and line["activity_id"] == "3"
    assert not {"taskName", "temporal_workflow", "temporal_activity"} & set(line)

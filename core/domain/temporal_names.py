"""The names the product registers in Temporal: its task queues and custom search attributes.
Constants only, so workflows may import them."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# Task queues: one per worker kind; `operator` hosts the workflows and the heartbeat's
# activities; `notify` (polled wherever `operator` is) the Telegram sends, rate-limited by the
# server across every worker process.
OPERATOR_QUEUE = "operator"
NOTIFY_QUEUE = "notify"
RESEARCH_QUEUE = "research"
EXECUTION_QUEUE = "execution"
REPORTING_QUEUE = "reporting"
ALL_QUEUES = (OPERATOR_QUEUE, RESEARCH_QUEUE, EXECUTION_QUEUE, REPORTING_QUEUE)

# Custom search attributes: the Web UI and `temporal workflow list --query` filter on these.
SA_JOB_STATUS = SearchAttributeKey.for_keyword("JobStatus")
SA_WORKER_NAME = SearchAttributeKey.for_keyword("WorkerName")
SA_REPORT_CHAT_ID = SearchAttributeKey.for_int("ReportChatId")
SA_SCHEDULE_ID = SearchAttributeKey.for_keyword("JobScheduleId")
SEARCH_ATTRIBUTES = (SA_JOB_STATUS, SA_WORKER_NAME, SA_REPORT_CHAT_ID, SA_SCHEDULE_ID)


def dev_server_search_attribute_args() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int"}
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return args

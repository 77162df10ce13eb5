"""Job ids derived from a chat message: the same message names the same jobs (a redelivered
message starts nothing twice), and each job one message asks for has an id of its own."""

from __future__ import annotations

import re

import pytest

from core.domain.ids import (
    chat_folder,
    new_job_id,
    new_schedule_id,
    normalize_job_id,
    request_job_id,
    short_id,
    workspace_name,
)
from core.domain.jobs.models import JOB_ID_RE

KEY = "777:4242:31"


def test_the_same_message_names_the_same_job() -> None:
    assert request_job_id(KEY) == request_job_id(KEY, 0) == request_job_id(KEY, 0)
    assert re.fullmatch(r"job-[a-z2-9]{8}", request_job_id(KEY))


def test_each_job_of_one_message_has_its_own_id() -> None:
    ids = [request_job_id(KEY, n) for n in range(3)]  # the intake starts up to three
    assert len(set(ids)) == 3, ids


def test_another_message_chat_or_bot_names_another_job() -> None:
    ids = {request_job_id(key) for key in (KEY, "777:4242:32", "777:4243:31", "778:4242:31")}
    assert len(ids) == 4


def test_a_derived_id_is_one_a_person_can_type_back() -> None:
    job_id = request_job_id(KEY, 2)
    assert normalize_job_id(job_id) == job_id
    assert normalize_job_id(job_id.removeprefix("job-")) == job_id
    assert JOB_ID_RE.fullmatch(job_id)


def test_new_ids_are_short_readable_and_drawn_anew() -> None:
    jobs = {new_job_id() for _ in range(50)}
    assert len(jobs) == 50
    for job_id in jobs:
        assert re.fullmatch(r"job-[abcdefghjkmnpqrstuvwxyz23456789]{6}", job_id), job_id
    schedule = new_schedule_id()
    assert re.fullmatch(r"jobsched-[abcdefghjkmnpqrstuvwxyz23456789]{6}", schedule), schedule
    assert len(short_id(11)) == 11


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("job-abc123", "job-abc123"),
        ("abc123", "job-abc123"),
        ("ABC123", "job-abc123"),
        ("#job-abc123", "job-abc123"),
        ("  job-abc123 ", "job-abc123"),
        ("JOB-abc123", "job-abc123"),
        ("Job-sched-run-2026-11-25T09:00:00Z", "job-sched-run-2026-11-25T09:00:00Z"),
        ("jobsched-abc123", "jobsched-abc123"),
        ("Xy2345", "job-xy2345"),  # only a leading "#" is dropped, nothing else
        ("JOBSCHED-abc123", "JOBSCHED-abc123"),
    ],
)
def test_a_typed_id_is_normalised(typed: str, meant: str) -> None:
    assert normalize_job_id(typed) == meant


@pytest.mark.parametrize(
    ("chat_id", "folder"),
    [(123, "chat-123"), (-100123, "chat-n100123"), (0, "chat-0"), (1, "chat-1")],
)
def test_chat_folders(chat_id: int, folder: str) -> None:
    assert chat_folder(chat_id) == folder


def test_workspace_names_are_plain_and_bounded() -> None:
    assert workspace_name(5, "job-abc123") == "chat-5/job-abc123"
    assert workspace_name(-7, "job-X:1/../y") == "chat-n7/job-x-1----y"
    long = workspace_name(5, "job-" + "a" * 200)
    assert long == "chat-5/" + ("job-" + "a" * 200)[:80]

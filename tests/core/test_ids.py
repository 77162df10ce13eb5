"""Job ids derived from a chat message: the same message names the same jobs (a redelivered
message starts nothing twice), and each job one message asks for has an id of its own."""

from __future__ import annotations

import re

from core.ids import normalize_job_id, request_job_id
from core.jobs.models import JOB_ID_RE

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

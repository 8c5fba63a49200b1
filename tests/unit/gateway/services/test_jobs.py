"""The job service's input checks (gateway/services/jobs.py): callback URLs and job ids."""

from __future__ import annotations

import uuid

import pytest

from gateway.services.errors import InvalidInput
from gateway.services.jobs import check_callback_url, parse_job_id
from tasks.settings import Settings
from tasks.webhooks.ssrf import UrlPolicy

URL_POLICY = UrlPolicy.from_settings(Settings(_env_file=None))


@pytest.mark.parametrize("url", ["ftp://x/", "http://", "javascript:alert(1)", "http://h:0x1/",
                                 "https://h:70000/", "x" * 3000])
def test_callback_url_rejected(url: str) -> None:
    with pytest.raises(InvalidInput, match="callback_url"):
        check_callback_url(url, URL_POLICY)


def test_callback_url_accepted() -> None:
    assert check_callback_url("https://hooks.example.com/job?x=1", URL_POLICY) is not None
    assert check_callback_url(None, URL_POLICY) is None


def test_parse_job_id() -> None:
    assert parse_job_id("nope") is None
    job_id = str(uuid.uuid4())
    assert parse_job_id(job_id.upper()) == job_id


def test_check_callback_url_names_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^url: ") as refused:
        check_callback_url("http://169.254.169.254/",
                           UrlPolicy.from_settings(Settings(_env_file=None)), field="url")
    assert refused.value.details[0]["type"] == "url_blocked"

"""The two job queues (tasks/queues.py): the settings that name them, each function's queue
in the catalog, and the `-Q` list of `python -m worker`."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from tasks.jobs.catalog import Catalog
from tasks.queues import chosen
from tasks.settings import Settings


def test_functions_go_to_their_policys_queue() -> None:
    catalog = Catalog(Settings(_env_file=None))
    assert catalog["wait_and_return"].policy.queue == "celery.long"
    assert catalog["sum_to_n_job"].policy.queue == "celery"  # the default: short
    moved = Catalog(Settings(_env_file=None, celery_queue="fast", celery_long_queue="slow",
                             function_policies={"sum_to_n_job": {"queue": "long"}}))
    assert moved["sum_to_n_job"].policy.queue == "slow"
    one = Catalog(Settings(_env_file=None, celery_long_queue=""))
    assert {spec.policy.queue for spec in one.values()} == {"celery"}


@pytest.mark.parametrize(("policies", "message"), [
    ({"sum_to_n_job": {"queue": "medium"}},
     "the queue of sum_to_n_job must be one of short, long \\(got 'medium'\\)"),
    ({"sum_to_n_job": {"hard_time_limit": "long"}}, "hard_time_limit of sum_to_n_job must be"),
])
def test_function_policies_values_are_checked(policies: dict[str, dict[str, str]],
                                              message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, function_policies=policies)


@pytest.mark.parametrize("name", ["a,b", "with space", ""])
def test_queue_names_that_cannot_be_listed_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="celery_queue"):
        Settings(_env_file=None, celery_queue=name)
    if name:  # an empty long queue is the one-queue layout
        with pytest.raises(ValidationError, match="celery_long_queue"):
            Settings(_env_file=None, celery_long_queue=name)


def test_a_queue_named_after_the_other_role_is_refused() -> None:
    with pytest.raises(ValidationError, match="CELERY_QUEUE may not be 'long'"):
        Settings(_env_file=None, celery_queue="long")
    with pytest.raises(ValidationError, match="CELERY_LONG_QUEUE 'short'"):
        Settings(_env_file=None, celery_long_queue="short")
    named = Settings(_env_file=None, celery_queue="short", celery_long_queue="long").queues
    assert chosen(named, "long,short") == ["long", "short"]


def test_q_takes_roles_or_names_in_order_each_once() -> None:
    queues = Settings(_env_file=None).queues
    assert chosen(queues, "short,long") == ["celery", "celery.long"]
    assert chosen(queues, "celery.long, short,celery") == ["celery.long", "celery"]
    with pytest.raises(ValueError, match=re.escape(
            "unknown queue 'medium': this worker can consume short, long, celery, celery.long")):
        chosen(queues, "short,medium")
    with pytest.raises(ValueError, match="names no queue"):
        chosen(queues, " , ")
    assert chosen(Settings(_env_file=None, celery_long_queue="").queues, "short,long") == [
        "celery"]

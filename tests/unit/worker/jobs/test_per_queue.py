"""The command line of each queue's worker under `python -m worker` (worker/jobs/per_queue.py)."""

from __future__ import annotations

import sys

from worker.jobs.per_queue import child_commands, exit_code, node_name, take_queues


def test_q_is_taken_out_of_the_celery_options() -> None:
    assert take_queues(["-Q", "long", "--without-gossip"]) == ("long", ["--without-gossip"])
    assert take_queues(["--queues=short,long", "-c", "1"]) == ("short,long", ["-c", "1"])
    assert take_queues(["--loglevel=INFO"]) == (None, ["--loglevel=INFO"])


def test_each_queues_worker_is_a_node_of_its_own() -> None:
    assert node_name(["-n", "w1@box", "-E"], "long") == ["-E", "--hostname=w1-long@box"]
    assert node_name(["--hostname=w1@%h"], "long") == ["--hostname=w1-long@%h"]
    assert node_name([], "long") == ["--hostname=celery-long@%h"]
    commands = child_commands(["celery", "celery.long"], {"celery": "short",
                                                          "celery.long": "long"},
                              ["--hostname=w@%h", "--without-mingle"])
    assert commands == {
        "celery": [sys.executable, "-m", "worker", "-Q", "celery", "--hostname=w@%h",
                   "--without-mingle"],
        "celery.long": [sys.executable, "-m", "worker", "-Q", "celery.long",
                        "--without-mingle", "--hostname=w-long@%h"]}


def test_exit_codes_as_a_shell_shows_them() -> None:
    assert (exit_code(0), exit_code(1), exit_code(-9)) == (0, 1, 137)

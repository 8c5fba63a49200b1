"""One Celery worker per queue, under one `python -m worker`.

Prefetch and pool processes belong to a Celery worker, not to a queue: a worker that
consumed both queues would prefetch short jobs behind a running 20 s job and let that job
hold a pool process short jobs wait for. So each queue gets a worker of its own, a child
process (`python -m worker -Q <queue>`, the same command a machine dedicated to one queue
runs) with the queue's prefetch, heartbeat, run and lost-worker recovery. This parent only
starts them and passes the stop on: SIGTERM or Ctrl-C becomes SIGTERM to each child, the
warm shutdown with its grace period (worker/jobs/shutdown.py); a second one becomes SIGQUIT,
the cold shutdown. A child that ends on its own stops the others, and the parent exits with
its code, so a supervisor (honcho, Docker, systemd) restarts the whole worker. The children
stay in the parent's process group: SIGKILL of the group ends them all.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("worker.queues")
_POLL_SECONDS = 0.2
HOSTNAME_OPTIONS = ("-n", "--hostname")
QUEUES_OPTIONS = ("-Q", "--queues")


def take_option(argv: Sequence[str], names: tuple[str, str]) -> tuple[str | None, list[str]]:
    """The value of a Celery option (`-X value`, `--xx value` or `--xx=value`; None: not
    given, the last one wins) and the other arguments."""
    value, rest, skip = None, [], False
    for at, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in names and at + 1 < len(argv):
            value, skip = argv[at + 1], True
        elif arg.startswith(names[1] + "="):
            value = arg.partition("=")[2]
        else:
            rest.append(arg)
    return value, rest


def take_queues(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The `-Q`/`--queues` list of `argv` (None: not given), and the other arguments."""
    return take_option(argv, QUEUES_OPTIONS)


def node_name(argv: Sequence[str], suffix: str) -> list[str]:
    """`argv` with Celery's node name (`-n`/`--hostname`, default `celery@%h`) given a
    suffix, `name-suffix@host`: each queue's worker is a node of its own (Flower, the
    heartbeats and lost-worker recovery tell them apart)."""
    given, rest = take_option(argv, HOSTNAME_OPTIONS)
    name, at_sign, host = (given or "celery@%h").partition("@")
    return [*rest, f"--hostname={name}-{suffix}{at_sign}{host}"]


def child_commands(queues: Sequence[str], roles: dict[str, str],
                   argv: Sequence[str]) -> dict[str, list[str]]:
    """The command of each queue's worker (queue name to argv). The first queue's keeps the
    node name it was given (`celery@<host>`, which `python -m worker.jobs.healthcheck`
    checks by default); each other's gets its role as a suffix."""
    commands = {}
    for index, queue in enumerate(queues):
        own = list(argv) if index == 0 else node_name(argv, roles[queue])
        commands[queue] = [sys.executable, "-m", "worker", "-Q", queue, *own]
    return commands


def exit_code(returncode: int) -> int:
    """A child's exit status as a shell shows it (128 + the signal that ended it)."""
    return 128 - returncode if returncode < 0 else returncode


class PerQueueWorkers:
    """Starts the children, passes signals on, waits for them; `run` returns the exit code."""

    def __init__(self, commands: dict[str, list[str]]) -> None:
        self.commands = commands
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._signals = 0

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        for queue, argv in self.commands.items():
            if self._signals:
                break  # stopped while starting: start no more
            self.children[queue] = subprocess.Popen(argv)
            log.info("worker of queue %s started (pid %d)", queue, self.children[queue].pid)
        if self._signals:
            # Again: a child may have started just as the signal came (a second warm
            # shutdown changes nothing).
            self._signal_children(signal.SIGTERM)
        first_end: int | None = None
        # poll() every child on each turn (it is what notices an end): never any()'s first.
        while [child for child in self.children.values() if child.poll() is None]:
            ended = [(queue, child.returncode) for queue, child in self.children.items()
                     if child.returncode is not None]
            if ended and first_end is None and not self._signals:
                queue, first_end = ended[0]
                log.warning("the worker of queue %s ended (exit code %s): stopping the "
                            "others", queue, first_end)
                self._signal_children(signal.SIGTERM)
            time.sleep(_POLL_SECONDS)
        codes = [child.returncode for child in self.children.values()]
        if first_end is not None:
            return exit_code(first_end) or 1  # a worker that ends unasked is a failure
        return next((exit_code(code) for code in codes if code), 0)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self._signal_children(signal.SIGTERM if self._signals == 1 else signal.SIGQUIT)

    def _signal_children(self, sig: signal.Signals) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(sig)

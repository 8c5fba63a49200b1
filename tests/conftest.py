"""The fixtures every test shares live in tests/support/fixtures.py (a private Redis, a
stack, a receiver, launchers that stop what they start) and tests/support/browser.py
(headless Chromium); this file loads them.

With CI=true a test that skips or xfails (a missing browser, RabbitMQ, envsubst...) fails
instead, with the reason: a green CI means every test ran and passed.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

pytest_plugins = ["tests.support.fixtures", "tests.support.browser"]

STRICT = os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def _must_run(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CI, turn a skipped or xfailed outcome into a failure that gives the reason."""
    if not (STRICT and report.skipped):
        return
    if hasattr(report, "wasxfail"):
        reason = f"xfailed: {report.wasxfail or 'no reason given'}"
        del report.wasxfail
    elif isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        reason = "was skipped: " + report.longrepr[2].removeprefix("Skipped: ")
    else:
        reason = f"was skipped: {report.longrepr}"
    report.outcome = "failed"
    report.longrepr = f"CI=true: every test must run, but this one {reason}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _must_run(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report() -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _must_run(report)
    return report

"""The frontend example (nginx/app/, served by NGINX at /app/) in headless Chromium, through
the whole stack with API keys on: a 50M sum's progress bar between 0 and 100% mid-job and
its exact result at the end, the caller's job list kept live by jobsUpdated (another
client's job of the same tenant appears, another tenant's never does), cancel, and a wrong
key's error. Screenshots: test-artifacts/screenshots/app-*.png."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.browser import page_for, screenshot
from tests.support.edge import EdgeStack
from tests.support.helpers import submit_wait, wait_for_status
from tests.support.launcher import Launcher

ALPHA = "alpha-app-key-0123456789abcdef"
BETA = "beta-app-key-0123456789abcdef"
SUM = 50_000_000  # about 3 s of work, reporting progress all along
LONG_SUM = 4 * SUM  # a job still running when the test cancels it, however slow the machine
SUM_LABEL = "Sum 1 + 2 + … + n, with n ="
PROGRESS = "document.getElementById('current-progress').value"


@pytest.fixture(scope="module")
def keyed_edge(module_launch: Launcher) -> EdgeStack:
    return module_launch.edge("app-edge", API_KEYS=f"alpha:{ALPHA},beta:{BETA}",
                              SUM_MAX_NUMBER=str(LONG_SUM))


def open_app(browser: Any, edge: EdgeStack, key: str | None) -> Any:
    """The app in a tab of its own, with `key` typed in and used (None: as it opens)."""
    page = page_for(browser, edge, credentials=False)  # a public route: no basic auth
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    response = page.goto(f"{edge.url}/app/")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    if key is not None:
        use_key(page, key)
    return page


def use_key(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()


def submit(page: Any, number: int) -> str:
    page.get_by_label(SUM_LABEL).fill(str(number))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_function("document.getElementById('current-id').textContent !== ''")
    job_id: str = page.locator("#current-id").inner_text()
    return job_id


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'#job-rows tr[data-job-id="{job_id}"]')


def test_a_sum_moves_the_bar_and_ends_with_the_exact_result(browser: Any,
                                                             keyed_edge: EdgeStack) -> None:
    page = open_app(browser, keyed_edge, ALPHA)
    page.get_by_text("Connected to the gateway.").wait_for()
    # Results past 2^53 stay exact: the app's JSON reviver reads their digits.
    big = page.evaluate("""async () => {
        const api = await import('./api.js');
        return String(JSON.parse('{"r": 20000000100000000}', api.exactIntegers).r); }""")
    assert big == "20000000100000000"

    job_id = submit(page, SUM)
    page.wait_for_function(f"{PROGRESS} > 0 && {PROGRESS} < 1")
    before = page.evaluate(PROGRESS)
    screenshot(page, "app-mid-job")
    after = page.evaluate(PROGRESS)
    # The bar only grows: what the screenshot shows lies between the two readings.
    assert 0 < before <= after < 1, (before, after)
    assert row(page, job_id).get_attribute("data-status") == "STARTED"

    # Another client of the same tenant: its job appears in the list as it changes; the
    # other tenant's never does.
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha, \
            keyed_edge.client(headers={"X-API-Key": BETA}) as beta:
        theirs = submit_wait(beta, 0)
        ours = submit_wait(alpha, 0)
        wait_for_status(beta, theirs)
    row(page, ours).locator("td", has_text="Hello World!").wait_for()

    page.locator("#current-status", has_text="SUCCEEDED").wait_for()
    assert page.locator("#current-result").inner_text() == str(SUM * (SUM + 1) // 2)
    assert page.evaluate(PROGRESS) == 1
    assert page.locator("#current-percent").inner_text() == "100%"
    assert row(page, job_id).get_attribute("data-status") == "SUCCEEDED"
    assert row(page, job_id).locator("td").last.inner_text() == "1250000025000000"
    assert row(page, theirs).count() == 0
    screenshot(page, "app-done")

    page.reload()  # the key stays in the tab; the list so far comes from jobs()
    assert page.get_by_label("API key").input_value() == ALPHA
    row(page, job_id).locator("td", has_text="1250000025000000").wait_for()
    assert row(page, theirs).count() == 0
    assert not page.errors, page.errors
    page.context.close()


def test_cancel_stops_a_running_sum(browser: Any, keyed_edge: EdgeStack) -> None:
    page = open_app(browser, keyed_edge, ALPHA)
    job_id = submit(page, LONG_SUM)
    page.wait_for_function(f"{PROGRESS} > 0")  # running
    page.get_by_role("button", name="Cancel this job").click()
    page.locator("#current-status", has_text="CANCELLED").wait_for()
    assert row(page, job_id).get_attribute("data-status") == "CANCELLED"
    assert page.get_by_role("button", name="Cancel this job").is_disabled()
    assert page.locator("#current-result").inner_text() == ""
    assert page.locator("#error").is_hidden()
    screenshot(page, "app-cancelled")
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha:
        record = alpha.get(f"/producer/api/jobs/{job_id}").json()
    assert record["status"] == "CANCELLED" and record["result"] is None, record
    assert not page.errors, page.errors
    page.context.close()


def test_a_wrong_key_is_shown_and_submits_nothing(browser: Any,
                                                  keyed_edge: EdgeStack) -> None:
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha:
        before = alpha.get("/producer/api/jobs", params={"first": 100}).json()["data"]
    page = open_app(browser, keyed_edge, None)
    alert = page.get_by_role("alert")
    alert.get_by_text("The gateway needs an API key").wait_for()  # none in a new tab
    use_key(page, "wrong-key-0123456789abcdef")
    alert.get_by_text("The gateway refused the API key").wait_for()
    page.get_by_role("button", name="Submit").click()
    alert.get_by_text("The gateway refused the API key").wait_for()
    assert page.locator("#current").is_hidden()
    assert page.locator("#job-rows tr").count() == 0
    screenshot(page, "app-wrong-key")
    use_key(page, ALPHA)  # a right key, and a number over the catalog's bound
    page.get_by_text("Connected to the gateway.").wait_for()
    submit_button = page.get_by_role("button", name="Submit")
    page.get_by_label(SUM_LABEL).fill(str(LONG_SUM + 1))
    submit_button.click()
    alert.get_by_text(f"less than or equal to {LONG_SUM}").wait_for()
    screenshot(page, "app-bad-input")
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha:
        after = alpha.get("/producer/api/jobs", params={"first": 100}).json()["data"]
    assert after == before
    with httpx.Client(base_url=keyed_edge.url) as anonymous:  # and the files are public
        assert anonymous.get("/app/app.js").headers["content-type"].startswith(
            "text/javascript")
    assert not page.errors, page.errors
    page.context.close()

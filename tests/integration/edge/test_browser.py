"""The pages a person opens, in headless Chromium (Debian's `chromium`, driven by Playwright
for Python; no browser download), against the whole stack behind NGINX: GraphiQL at
/graphql, Flower at /dashboard/, Locust at /load-test/. Screenshots go to
test-artifacts/screenshots/ (tests/support/browser.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.browser import page_for, screenshot
from tests.support.edge import EdgeStack


def assert_refused_without_credentials(browser: Any, edge: EdgeStack, path: str) -> None:
    """401 to a request without credentials; a browser with none to offer stops there."""
    page = page_for(browser, edge, credentials=False)
    assert page.request.get(f"{edge.url}{path}").status == 401
    with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
        page.goto(f"{edge.url}{path}")
    page.context.close()


def test_flower_dashboard_lists_the_worker(browser: Any, edge: EdgeStack) -> None:
    assert_refused_without_credentials(browser, edge, "/dashboard/")

    page = page_for(browser, edge)
    response = page.goto(f"{edge.url}/dashboard/")
    assert response.status == 200
    worker = page.get_by_text(re.compile(re.escape(edge.worker_name))).first
    worker.wait_for()  # the table of workers, filled in by Flower
    row = page.locator("tr", has_text=edge.worker_name).first
    row.get_by_text("Online").wait_for()
    screenshot(page, "flower-dashboard")
    page.context.close()


def test_locust_ui_loads(browser: Any, edge: EdgeStack) -> None:
    assert_refused_without_credentials(browser, edge, "/load-test/")

    page = page_for(browser, edge)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert page.goto(f"{edge.url}/load-test/").status == 200
    # The start form of Locust's React UI, with our NGINX address as the host to test.
    page.get_by_role("button", name=re.compile("start", re.IGNORECASE)).first.wait_for()
    page.get_by_text(re.compile("number of users", re.IGNORECASE)).first.wait_for()
    screenshot(page, "locust-ui")
    assert not errors, errors
    page.context.close()


def run_in_graphiql(page: Any, query: str, expect: str) -> str:
    """Replace the editor's text, run it, and wait until the response shows `expect`."""
    editor = page.locator(".graphiql-query-editor").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(query)  # no key events: editors would auto-close brackets
    # GraphiQL parses the editor's text after a debounce, and picks the transport (HTTP,
    # or the WebSocket for a subscription) from that parse: let it catch up, as a person
    # typing would.
    page.wait_for_timeout(700)
    page.locator(".graphiql-execute-button").first.click()
    response = page.locator(".graphiql-response").first
    response.get_by_text(re.compile(expect)).first.wait_for()
    text: str = response.inner_text()
    return text


def test_graphiql_submits_a_job_and_shows_it(browser: Any, edge: EdgeStack) -> None:
    page = page_for(browser, edge, credentials=False)  # GraphQL is a public route
    assert page.goto(f"{edge.url}/graphql").status == 200
    page.locator(".graphiql-container").first.wait_for()
    submitted = run_in_graphiql(page, "mutation { submitSum(number: 10) { id status } }",
                                r"submitSum")
    job_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                       submitted)
    assert job_id, submitted
    query = f'query {{ job(id: "{job_id.group(0)}") {{ id status result }} }}'
    for _ in range(60):  # run the query again until the job has ended
        shown = run_in_graphiql(page, query, r"status")
        if "SUCCEEDED" in shown:
            break
        page.wait_for_timeout(500)
    assert "SUCCEEDED" in shown and job_id.group(0) in shown and "55" in shown, shown
    screenshot(page, "graphiql")
    page.context.close()


def test_graphiql_subscription_shows_the_job_finish(browser: Any, edge: EdgeStack) -> None:
    """jobUpdated in GraphiQL, over its WebSocket through NGINX: no polling anywhere."""
    page = page_for(browser, edge, credentials=False)
    assert page.goto(f"{edge.url}/graphql").status == 200
    page.locator(".graphiql-container").first.wait_for()
    submitted = run_in_graphiql(
        page, "mutation { submitWaitAndReturn(seconds: 2) { id } }", r"submitWaitAndReturn")
    job_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                       submitted)
    assert job_id, submitted
    try:
        shown = run_in_graphiql(
            page, f'subscription {{ jobUpdated(id: "{job_id.group(0)}") {{ status result }} }}',
            r"SUCCEEDED")
    finally:  # the picture of a failure too
        screenshot(page, "graphiql-subscription")
    assert "Hello World!" in shown, shown
    screenshot(page, "graphiql-subscription")
    page.context.close()

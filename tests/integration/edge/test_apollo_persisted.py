"""Apollo Client's persisted-query link (createPersistedQueryLink over HttpLink, node) against
the gateway through NGINX: issue 17's Done-when. The first request by hash gets
PersistedQueryNotFound, the retry with the document succeeds, later requests go by hash
alone (a mutation by POST, a query by GET) and succeed; the gateway's own counter agrees."""

from __future__ import annotations

import shutil

import pytest

from tests.support.apollo_client import run_persisted_queries
from tests.support.edge import EdgeStack
from tests.support.helpers import metric
from tests.support.servers import wait_until

ROUNDS = 3
OUTCOMES = ("hit", "not_found", "registered")
COUNTER = "gateway_graphql_persisted_queries_total"


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="needs node and npm (TEST_EXTRAS in the Makefile)")
def test_apollo_persisted_query_link_through_nginx(edge: EdgeStack) -> None:
    with edge.client() as client:
        before = client.get("/metrics", auth=edge.auth).text
        seen = run_persisted_queries(f"{edge.url}/graphql", ROUNDS)

        # Per operation: hash alone (unknown), then the document with its hash, then hash alone.
        requests = [(r["method"], r["query"], r["status"], r["errors"]) for r in seen["requests"]]
        first_round = [("POST", False, 200, ["PERSISTED_QUERY_NOT_FOUND"]),
                       ("POST", True, 200, []),
                       ("GET", False, 200, ["PERSISTED_QUERY_NOT_FOUND"]),
                       ("POST", True, 200, [])]
        later: list[tuple[str, bool, int, list[str]]] = [
            ("POST", False, 200, []), ("GET", False, 200, [])] * (ROUNDS - 1)
        assert requests == first_round + later, seen["requests"]
        assert all(r["hash"] and len(r["hash"]) == 64 for r in seen["requests"])
        results = seen["results"]
        assert len({r["submitSum"]["id"] for r in results}) == ROUNDS
        assert all(r["functions"] == results[0]["functions"] != [] for r in results)

        expected = {"hit": 2 * (ROUNDS - 1), "not_found": 2, "registered": 2}

        def grew() -> dict[str, float]:
            text = client.get("/metrics", auth=edge.auth).text
            return {o: metric(text, COUNTER, outcome=o) - metric(before, COUNTER, outcome=o)
                    for o in OUTCOMES}

        wait_until(lambda: grew() == expected, 10, f"the gateway's count {expected}")

"""Does this build serve GraphQL? The GraphQL figures are measured only when the gateway
answers `submitSum` at /graphql with a job; otherwise the summary says they are not
available in this build (they are never estimated)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import httpx

MUTATION = "mutation ($n: BigInt!) { submitSum(number: $n) { id status } }"
# The same mutation by automatic persisted query: its SHA-256 instead of its text.
PERSISTED = {"persistedQuery": {"version": 1,
                                "sha256Hash": hashlib.sha256(MUTATION.encode()).hexdigest()}}


@dataclass(frozen=True, slots=True)
class GraphQLSupport:
    available: bool
    reason: str  # why not, or how it was confirmed
    body: str = ""  # the request body wrk sends

    def as_dict(self) -> dict[str, object]:
        return {"available": self.available, "reason": self.reason}


JOB_QUERY = "query ($id: ID!) { job(id: $id) { id status result } }"


def submit_body(number: int | str) -> str:
    return json.dumps({"query": MUTATION, "variables": {"n": number}})


def job_body(job_id: str) -> str:
    """The GraphQL twin of the REST poll: a finished job's status and result."""
    return json.dumps({"query": JOB_QUERY, "variables": {"id": job_id}})


def probe(base_url: str, headers: dict[str, str] | None = None) -> GraphQLSupport:
    """Try the mutation once (BigInt as a JSON number, then as a string), sending
    `headers` too (an API key)."""
    last = ""
    for number in (1, "1"):
        body = submit_body(number)
        try:
            resp = httpx.post(f"{base_url}/graphql", content=body,
                              headers={"content-type": "application/json", **(headers or {})},
                              timeout=10)
        except httpx.HTTPError as exc:
            return GraphQLSupport(False, f"POST /graphql failed: {exc!r}")
        if resp.status_code == 404:
            return GraphQLSupport(False, "the gateway does not serve /graphql (404)")
        try:
            data = resp.json()
        except ValueError:
            return GraphQLSupport(False, f"/graphql answered {resp.status_code}, not JSON")
        job = (data.get("data") or {}).get("submitSum") if isinstance(data, dict) else None
        if resp.status_code == 200 and isinstance(job, dict) and job.get("id"):
            return GraphQLSupport(True, f"submitSum(number: {number!r}) returned a job", body)
        last = f"/graphql answered {resp.status_code}: {resp.text[:300]}"
    return GraphQLSupport(False, last)


def persisted_body(number: int) -> str:
    return json.dumps({"variables": {"n": number}, "extensions": PERSISTED})


def probe_persisted(base_url: str) -> GraphQLSupport:
    """Register the mutation by its hash (the document once, with the hash), then check
    that the hash alone makes a job: the body wrk then sends."""
    url = f"{base_url}/graphql"
    try:
        httpx.post(url, json={"query": MUTATION, "variables": {"n": 1}, "extensions": PERSISTED},
                   timeout=10)
        resp = httpx.post(url, content=persisted_body(1),
                          headers={"content-type": "application/json"}, timeout=10)
    except httpx.HTTPError as exc:
        return GraphQLSupport(False, f"POST /graphql by hash failed: {exc!r}")
    job = ((resp.json().get("data") or {}).get("submitSum")
           if resp.headers.get("content-type", "").startswith("application/json") else None)
    if resp.status_code == 200 and isinstance(job, dict) and job.get("id"):
        return GraphQLSupport(True, "submitSum by persisted hash returned a job",
                              persisted_body(1))
    return GraphQLSupport(False, f"by hash: /graphql answered {resp.status_code}: "
                                 f"{resp.text[:300]}")

"""The dispatcher's HTTP client (worker/webhooks/client.py) on URLs it can never send to:
told apart from transient failures, without a connection."""

from __future__ import annotations

from tasks.webhooks.config import parse_networks
from tasks.webhooks.ssrf import CheckedUrl, UrlPolicy
from worker.webhooks.client import WebhookClient


async def test_invalid_urls_are_their_own_class_and_open_no_connection() -> None:
    client = WebhookClient(UrlPolicy(parse_networks("127.0.0.0/8")), 1.0, 2.0, 4)
    try:
        # Stored by an older version as written: the check refuses it now.
        refused = await client.post("http://999.1.1.1:8080/", b"{}", {})
        assert refused.error == "invalid_url" and refused.status_code is None
        assert "not a valid IPv4 address" in (refused.detail or "")
        # Refused by the HTTP client itself (never by the check any more; kept in case).
        url = "http://1.2.3.4.5:8080/"
        client._urls[url] = CheckedUrl(url, "http", "1.2.3.4.5", 8080, None, url)
        rejected = await client.post(url, b"{}", {})
        assert rejected.error == "invalid_url", rejected
        # The SSRF policy's refusals stay `blocked`.
        blocked = await client.post("http://10.0.0.1:8080/", b"{}", {})
        assert blocked.error == "blocked"
    finally:
        await client.close()

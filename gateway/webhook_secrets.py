"""Endpoint signing secrets at rest: `python -m gateway.webhook_secrets
generate-key|status|reencrypt`.

`generate-key` prints a new WEBHOOK_ENCRYPTION_KEY. `status` counts the stored secrets by
the key they are sealed with (the first key, an older one of the list, plain text from
before encryption at rest, or none of the keys). `reencrypt` seals every one that is not
under the first key: run it after an upgrade from plaintext secrets, and after putting a
new key first, before the old key leaves the list. It reads the same settings as the
services (REDIS_URL, WEBHOOK_ENCRYPTION_KEY).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from cryptography.fernet import Fernet

from tasks.redis.clients import Outage, async_client
from tasks.settings import Settings, get_settings
from tasks.webhooks.reseal import ResealReport, reseal_all
from tasks.webhooks.secret_box import SecretBox


async def _run(settings: Settings, write: bool) -> ResealReport:
    client = async_client(settings, Outage.FAIL_FAST)
    try:
        return await reseal_all(client, SecretBox.from_settings(settings), write=write)
    finally:
        await client.aclose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.webhook_secrets",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate-key", help="print a new key for WEBHOOK_ENCRYPTION_KEY")
    sub.add_parser("status", help="count stored secrets by the key they are sealed with")
    sub.add_parser("reencrypt", help="seal every stored secret with the first key")
    args = parser.parse_args(argv)

    if args.command == "generate-key":
        print(Fernet.generate_key().decode())
        return 0
    settings = get_settings()
    if settings.webhook_encryption_is_development:
        print("WEBHOOK_ENCRYPTION_KEY is not set: using the public development key",
              file=sys.stderr)
    report = asyncio.run(_run(settings, write=args.command == "reencrypt"))
    print(report.summary())
    if report.unreadable:
        print(f"{len(report.unreadable)} endpoints have a secret no key of "
              "WEBHOOK_ENCRYPTION_KEY opens (a key left out of the list?): "
              + " ".join(sorted(report.unreadable)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

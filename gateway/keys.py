"""Manage API keys stored in Redis: `python -m gateway.keys create|list|revoke`.

Only each key's SHA-256 is stored; `create` prints the key once and never again.
"""

from __future__ import annotations

import argparse
import sys
import time

from gateway.services.auth import check_tenant, key_digest, new_key
from tasks.redis.clients import Outage, sync_client
from tasks.redis.keys import API_KEY_META_KEY, API_KEYS_KEY
from tasks.redis.replies import as_text
from tasks.settings import get_settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key for a tenant; prints it once")
    create.add_argument("tenant")
    sub.add_parser("list", help="list key ids and their tenants (never the keys)")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (from `list`)")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    settings = get_settings()
    client = sync_client(settings, Outage.FAIL_FAST)
    if args.command == "create":
        try:
            tenant = check_tenant(args.tenant)
        except ValueError as exc:
            parser.error(str(exc))
        key = new_key()
        digest = key_digest(key)
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(API_KEYS_KEY, digest, tenant)
            pipe.hset(API_KEY_META_KEY, digest, f"{tenant}|{int(time.time())}")
            pipe.execute()
        print(f"key id {digest[:12]} for tenant {tenant}. The key (shown only now):")
        print(key)
    elif args.command == "list":
        stored = client.hgetall(API_KEY_META_KEY)
        for digest, meta in sorted((as_text(k), as_text(v)) for k, v in stored.items()):
            tenant, _, created = meta.partition("|")
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(created or 0)))
            print(f"{digest[:12]}  {tenant:<24} created {stamp} UTC")
    else:
        matches = [as_text(d) for d in client.hkeys(API_KEY_META_KEY)
                   if as_text(d).startswith(args.key_id)]
        if len(args.key_id) < 8 or len(matches) != 1:
            print(f"no single key with id {args.key_id!r}", file=sys.stderr)
            return 1
        with client.pipeline(transaction=True) as pipe:
            pipe.hdel(API_KEYS_KEY, matches[0])
            pipe.hdel(API_KEY_META_KEY, matches[0])
            pipe.execute()
        print(f"revoked {matches[0][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

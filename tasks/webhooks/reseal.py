"""Every stored endpoint secret sealed under the first WEBHOOK_ENCRYPTION_KEY: the upgrade
from plaintext secrets, and the second half of a key rotation
(`python -m gateway.webhook_secrets reencrypt`, gateway/webhook_secrets.py).

It walks the endpoint hashes with SCAN (any number of tenants, no lock, the API keeps
working) and rewrites an endpoint's `secret` and `previous_secret` in one script that
writes only if both are still what was read: a rotation that lands in between wins, and
the endpoint is read again. Running it twice, or from two places at once, is harmless.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from tasks.redis.keys import ENDPOINT_PREFIX
from tasks.redis.replies import as_text
from tasks.webhooks.secret_box import SealState, SecretBox
from tasks.webhooks.store import RESEAL_LUA

SECRET_FIELDS = ("secret", "previous_secret")
SCAN_COUNT = 500
RACE_RETRIES = 5  # reads of one endpoint while rotations keep landing in between


@dataclass
class ResealReport:
    endpoints: int = 0
    states: Counter[SealState] = field(default_factory=Counter)  # stored values, as found
    resealed: int = 0  # endpoints rewritten
    unreadable: list[str] = field(default_factory=list)  # endpoint ids no key opens

    def summary(self) -> str:
        found = ", ".join(f"{self.states[s]} {s.value}" for s in SealState)
        return (f"{self.endpoints} endpoints; stored secrets as found: {found}; "
                f"{self.resealed} endpoints re-encrypted")


async def reseal_all(client: aioredis.Redis, box: SecretBox, write: bool = True) -> ResealReport:
    """Count every stored secret's state and, with `write`, seal each one that is not under
    the first key (plaintext, or an older key). Unreadable ones are left as they are."""
    script = client.register_script(RESEAL_LUA)
    report = ResealReport()
    async for raw_key in client.scan_iter(match=ENDPOINT_PREFIX + "*", count=SCAN_COUNT,
                                          _type="HASH"):
        key = as_text(raw_key)
        report.endpoints += 1
        for _ in range(RACE_RETRIES):
            stored = dict(zip(SECRET_FIELDS,
                              (as_text(v) if v is not None else "" for v in
                               await client.hmget(key, SECRET_FIELDS)), strict=True))
            states = {f: box.state(v) for f, v in stored.items() if v}
            stale = {f: v for f, v in stored.items()
                     if states.get(f) in (SealState.PLAINTEXT, SealState.OLDER_KEY)}
            if not write or not stale:
                break
            args = [x for f, v in stale.items() for x in (f, v, box.seal(box.open(v)))]
            if await script(keys=[key], args=args):
                report.resealed += 1
                break
        report.states.update(states.values())
        if SealState.UNREADABLE in states.values():
            report.unreadable.append(key.removeprefix(ENDPOINT_PREFIX))
    return report

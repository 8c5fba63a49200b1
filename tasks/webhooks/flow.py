"""Flow control of webhook destinations, as Python sees it: the circuit breaker's policy
(from settings, handed to the script that records outcomes) and its state as stored (read
for the endpoint and delivery views), and the bounds of an endpoint's rate limit.

The state changes themselves happen in Redis, in the scripts: tasks/webhooks/breaker.lua
(open, half-open, closed, given up) and deliveries_claim.lua (probes and rate windows).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from tasks.jobs.record import iso_time, opt_float
from tasks.redis.replies import as_text

MAX_RATE_LIMIT = 1000  # deliveries per second an endpoint may ask for, at most


class BreakerStateName(enum.StrEnum):
    CLOSED = "closed"  # messages flow
    OPEN = "open"  # messages wait, unclaimed and uncharged, until next_probe_at
    HALF_OPEN = "half_open"  # one probe may go out; its outcome closes or re-opens


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int  # consecutive failures that open it (0: no breaker)
    cooldown: float  # seconds of the first cool-down; doubled per failed probe
    max_cooldown: float
    disable_after: float  # seconds open before a registered endpoint is disabled (0: never)

    def args(self) -> list[str]:
        return [str(self.failures), repr(self.cooldown), repr(self.max_cooldown),
                repr(self.disable_after)]


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: BreakerStateName
    consecutive_failures: int
    opened_at: float | None  # when this failing streak first opened it
    next_probe_at: float | None  # while open: when the cool-down ends

    @classmethod
    def from_fields(cls, raw: dict[Any, Any] | None) -> BreakerState:
        """From the destination's breaker hash (absent or empty: closed)."""
        f = {as_text(k): as_text(v) for k, v in (raw or {}).items()}
        state = BreakerStateName(f.get("state", "closed"))
        return cls(state=state, consecutive_failures=int(f.get("failures", "0")),
                   opened_at=opt_float(f, "opened_at") if state is not BreakerStateName.CLOSED
                   else None,
                   next_probe_at=opt_float(f, "probe_at") if state is BreakerStateName.OPEN
                   else None)

    def to_public(self) -> dict[str, Any]:
        return {"state": self.state.value, "consecutive_failures": self.consecutive_failures,
                "opened_at": iso_time(self.opened_at),
                "next_probe_at": iso_time(self.next_probe_at)}


CLOSED = BreakerState(BreakerStateName.CLOSED, 0, None, None)

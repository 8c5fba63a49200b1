"""Every Redis key and channel name the project uses, in one place.

Python builds names with the functions below; Lua scripts get the same names from the
prelude tasks/redis/lua.py writes from `LUA_NAMES`, so a script never spells a name itself.
Everything the project owns starts with `KEY_PREFIX`; kombu's own keys are named last.
"""

from __future__ import annotations

KEY_PREFIX = "gw:"

# --- jobs (tasks/jobs) ----------------------------------------------------------------------
JOB_INDEX_KEY = f"{KEY_PREFIX}jobs"  # sorted set: job id by creation time, for listing
# A tenant's filtered indexes, zsets by creation time like its main index, named after it
# (tenant names have no ':'): ":status:QUEUED", ":function:sum_to_n_job", and both,
# ":status:QUEUED:function:sum_to_n_job". Kept by submit.lua and transition.lua
# (tasks/jobs/job_index.lua, which composes the same names from these parts).
STATUS_INDEX_PART = ":status:"
FUNCTION_INDEX_PART = ":function:"
QUEUED_KEY = f"{KEY_PREFIX}queued"  # sorted set: job id by queued time, while QUEUED
JOB_PREFIX = f"{KEY_PREFIX}job:"  # + job id: the job record, a hash
JOB_EVENTS_PREFIX = f"{KEY_PREFIX}job-events:"  # + job id: pub/sub channel of its transitions
# + tenant: pub/sub channel of every transition of the tenant's jobs (a live job list)
TENANT_EVENTS_PREFIX = f"{KEY_PREFIX}tenant-events:"
# Subscribed by the gateway's event hub so its pub/sub connection exists before the first
# job channel; nothing is published on it (gateway/services/events.py).
JOB_EVENTS_ANCHOR = f"{KEY_PREFIX}job-events-hub"
WORKERS_KEY = f"{KEY_PREFIX}workers"  # sorted set: worker hostname -> last stamp (unix s)
# A worker run is one start of a worker process ("hostname/pid.token": a worker started
# again under the same hostname is another run). Its heartbeat stamps the run; the jobs
# running on it are a set, so a lost run's jobs can be handed back (worker_lost.lua).
WORKER_RUNS_KEY = f"{KEY_PREFIX}worker-runs"  # sorted set: worker run -> last stamp (unix s)
WORKER_JOBS_PREFIX = f"{KEY_PREFIX}worker-jobs:"  # + worker run: set of the jobs it runs


def job_key(job_id: str) -> str:
    return JOB_PREFIX + job_id


def event_channel(job_id: str) -> str:
    return JOB_EVENTS_PREFIX + job_id


def tenant_event_channel(tenant: str) -> str:
    """Every record transition.lua publishes for one of the tenant's jobs, on one channel:
    what GraphQL's jobsUpdated follows (gateway/services/job_feed.py)."""
    return TENANT_EVENTS_PREFIX + tenant


def tenant_index_key(tenant: str) -> str:
    """Sorted set of a tenant's job ids by creation time, for listing."""
    return f"{JOB_INDEX_KEY}:{tenant}"


def job_index_key(tenant: str, status: str | None = None, function: str | None = None) -> str:
    """The index a listing with these filters reads: the tenant's main index without any,
    else the one of its status, of its function, or of both (all by creation time)."""
    key = tenant_index_key(tenant)
    if status is not None:
        key += STATUS_INDEX_PART + status
    if function is not None:
        key += FUNCTION_INDEX_PART + function
    return key


def idempotency_key(tenant: str, key: str) -> str:
    return f"{KEY_PREFIX}idem:{tenant}:{key}"


def rate_bucket_key(tenant: str) -> str:
    return f"{KEY_PREFIX}rate:{tenant}"


# --- API keys (gateway/services/auth.py) ----------------------------------------------------
API_KEYS_KEY = f"{KEY_PREFIX}api-keys"  # hash: sha256(key) hex -> tenant
API_KEY_META_KEY = f"{KEY_PREFIX}api-key-meta"  # hash: sha256(key) hex -> "tenant|created"

# --- metrics (tasks/metrics.py) --------------------------------------------------------------
METRICS_PREFIX = f"{KEY_PREFIX}metrics:"  # + metric name: a hash of label set -> value
# The breaker's transitions are counted by the Lua scripts that make them: the hash of the
# counter tasks.metrics.WEBHOOK_BREAKER_TRANSITIONS (a test keeps the two names equal).
BREAKER_TRANSITIONS_METRIC_KEY = f"{METRICS_PREFIX}gateway_webhook_breaker_transitions"

# --- webhooks (tasks/webhooks) ---------------------------------------------------------------
ENDPOINTS_PREFIX = f"{KEY_PREFIX}webhooks:"  # + tenant: set of the tenant's endpoint ids
ENDPOINT_PREFIX = f"{KEY_PREFIX}webhook:"  # + endpoint id: the endpoint, a hash
PAUSED_PREFIX = f"{KEY_PREFIX}webhook-paused:"  # + endpoint id: zset of held deliveries
DELIVERY_PREFIX = f"{KEY_PREFIX}delivery:"  # + delivery id: the delivery, a hash
ATTEMPTS_PREFIX = f"{KEY_PREFIX}delivery-attempts:"  # + delivery id: list of attempts
JOB_DELIVERIES_PREFIX = f"{KEY_PREFIX}job-deliveries:"  # + job id: list of its deliveries
# Before destinations, every due delivery sat in this one zset; the claim drains what an
# older version left there into the destinations' own sets (tasks/webhooks/destinations.lua).
LEGACY_DUE_KEY = f"{KEY_PREFIX}deliveries:due"
INFLIGHT_KEY = f"{KEY_PREFIX}deliveries:inflight"  # zset: delivery id by lease deadline
# Destinations (a tenant's registered endpoint, or a callback URL's origin): "tenant|target".
DEST_DUE_PREFIX = f"{KEY_PREFIX}dest-due:"  # + destination: zset, delivery id by due time
DEST_LEASES_PREFIX = f"{KEY_PREFIX}dest-leases:"  # + destination: zset, id by lease deadline
DEST_READY_PREFIX = f"{KEY_PREFIX}dest-ready:"  # + tenant: zset, its ready destinations' ring
DEST_TENANTS_KEY = f"{KEY_PREFIX}dest-tenants"  # zset: tenants with a ready destination, ring
DEST_WAITING_KEY = f"{KEY_PREFIX}dest-waiting"  # zset: destination by its first due time
DEST_FULL_KEY = f"{KEY_PREFIX}dest-full"  # zset: destination at its cap, by when to look again
DEST_RING_KEY = f"{KEY_PREFIX}dest-ring"  # counter: the rings' positions
# Flow control (tasks/webhooks/breaker.lua, deliveries_claim.lua): a destination's circuit
# breaker, a hash that exists only while it is failing; the open ones by the end of their
# cool-down, the half-open ones by when they first opened; the per-second rate windows of
# destinations and tenants ("second:count", gone after 2 s); tenants over their rate this
# second, by the next second.
DEST_BREAKER_PREFIX = f"{KEY_PREFIX}dest-breaker:"  # + destination: hash
DEST_OPEN_KEY = f"{KEY_PREFIX}dest-open"  # zset: open destination by cool-down end
DEST_HALF_OPEN_KEY = f"{KEY_PREFIX}dest-half-open"  # zset: half-open destination by opened_at
DEST_RATE_PREFIX = f"{KEY_PREFIX}dest-rate:"  # + destination: its window, "second:count"
TENANT_RATE_PREFIX = f"{KEY_PREFIX}tenant-rate:"  # + tenant: its window, "second:count"
TENANT_WAITING_KEY = f"{KEY_PREFIX}tenant-waiting"  # zset: tenant over its rate, by next second
DEAD_KEY = f"{KEY_PREFIX}deliveries:dead"  # zset: dead-lettered delivery id by time
# The failed-message index (tasks/webhooks/failed_index.lua), for listing and recover: zsets of
# delivery id by the message's creation time, per tenant and per destination; "failed" holds
# every message whose last attempt failed or that was dead-lettered, "dead" only the latter.
FAILED_TENANT_PREFIX = f"{KEY_PREFIX}failed-tenant:"  # + tenant
FAILED_DEST_PREFIX = f"{KEY_PREFIX}failed-dest:"  # + destination
DEAD_TENANT_PREFIX = f"{KEY_PREFIX}dead-tenant:"  # + tenant
DEAD_DEST_PREFIX = f"{KEY_PREFIX}dead-dest:"  # + destination
WAKE_CHANNEL = f"{KEY_PREFIX}deliveries:wake"  # pub/sub: "deliveries are due now"


def destination_due_key(destination: str) -> str:
    return DEST_DUE_PREFIX + destination


def destination_leases_key(destination: str) -> str:
    return DEST_LEASES_PREFIX + destination


def destination_ready_key(tenant: str) -> str:
    return DEST_READY_PREFIX + tenant


def failed_index_key(scope: str, *, dead: bool, destination: bool) -> str:
    """The failed-message index of a tenant (scope: its name) or of one destination (scope:
    `tenant|target`); `dead`: only the dead-lettered ones."""
    if destination:
        return (DEAD_DEST_PREFIX if dead else FAILED_DEST_PREFIX) + scope
    return (DEAD_TENANT_PREFIX if dead else FAILED_TENANT_PREFIX) + scope


def destination_breaker_key(destination: str) -> str:
    return DEST_BREAKER_PREFIX + destination


def endpoints_key(tenant: str) -> str:
    """A tenant's endpoints: they receive only that tenant's jobs' events."""
    return ENDPOINTS_PREFIX + tenant


def endpoint_key(endpoint_id: str) -> str:
    return ENDPOINT_PREFIX + endpoint_id


def paused_key(endpoint_id: str) -> str:
    """Deliveries held while their endpoint is disabled (after a 410), a zset by time."""
    return PAUSED_PREFIX + endpoint_id


def delivery_key(delivery_id: str) -> str:
    return DELIVERY_PREFIX + delivery_id


def attempts_key(delivery_id: str) -> str:
    return ATTEMPTS_PREFIX + delivery_id


def job_deliveries_key(job_id: str) -> str:
    return JOB_DELIVERIES_PREFIX + job_id


# --- GraphQL persisted queries (tasks/persisted_queries) ----------------------------------------
# Global, not per tenant: a document is named by its own SHA-256 and holds no tenant data.
PERSISTED_QUERIES_KEY = f"{KEY_PREFIX}persisted-queries"  # hash: sha256 hex -> document
PERSISTED_QUERIES_USED_KEY = f"{KEY_PREFIX}persisted-queries:used"  # zset: sha256 -> last use


# --- kombu's Redis transport (not ours: its names, read by recovery and metrics) -------------
KOMBU_UNACKED_KEY = "unacked"  # hash: delivery tag -> message delivered, not yet acknowledged
KOMBU_UNACKED_INDEX_KEY = "unacked_index"  # sorted set: delivery tag -> delivered at (unix s)
KOMBU_BINDING_PREFIX = "_kombu.binding."  # + exchange: set of "routing key SEP pattern SEP queue"
KOMBU_SEP = "\x06\x16"  # kombu's separator in binding members and priority queue names

# The names a Lua script may use, as `NAME.<key>` (tasks/redis/lua.py writes the table).
LUA_NAMES: dict[str, str] = {
    "queued": QUEUED_KEY,
    "job_index": f"{JOB_INDEX_KEY}:",
    "status_index": STATUS_INDEX_PART,
    "function_index": FUNCTION_INDEX_PART,
    "job": JOB_PREFIX,
    "job_events": JOB_EVENTS_PREFIX,
    "worker_runs": WORKER_RUNS_KEY,
    "worker_jobs": WORKER_JOBS_PREFIX,
    "tenant_events": TENANT_EVENTS_PREFIX,
    "endpoints": ENDPOINTS_PREFIX,
    "endpoint": ENDPOINT_PREFIX,
    "paused": PAUSED_PREFIX,
    "delivery": DELIVERY_PREFIX,
    "attempts": ATTEMPTS_PREFIX,
    "job_deliveries": JOB_DELIVERIES_PREFIX,
    "dest_due": DEST_DUE_PREFIX,
    "dest_leases": DEST_LEASES_PREFIX,
    "dest_ready": DEST_READY_PREFIX,
    "dest_tenants": DEST_TENANTS_KEY,
    "dest_waiting": DEST_WAITING_KEY,
    "dest_full": DEST_FULL_KEY,
    "dest_ring": DEST_RING_KEY,
    "dest_breaker": DEST_BREAKER_PREFIX,
    "dest_open": DEST_OPEN_KEY,
    "dest_half_open": DEST_HALF_OPEN_KEY,
    "dest_rate": DEST_RATE_PREFIX,
    "tenant_rate": TENANT_RATE_PREFIX,
    "tenant_waiting": TENANT_WAITING_KEY,
    "breaker_transitions": BREAKER_TRANSITIONS_METRIC_KEY,
    "wake": WAKE_CHANNEL,
    "failed_tenant": FAILED_TENANT_PREFIX,
    "failed_dest": FAILED_DEST_PREFIX,
    "dead_tenant": DEAD_TENANT_PREFIX,
    "dead_dest": DEAD_DEST_PREFIX,
}

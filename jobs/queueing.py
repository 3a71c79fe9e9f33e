"""The queue wiring in one place: RQ queue names, job functions (by dotted path, so nothing here imports
a job module), job ids, every Redis key the hub writes and the Lua scripts that move them.

Nothing here talks to Redis; ``hub.state.Hub`` and the jobs do, with these names.
"""

from __future__ import annotations

# ---- queues ---------------------------------------------------------------------------------------------

EVENTS_QUEUE = "events"  # processing deliveries, and the scheduler's own jobs
ERP_QUEUE, CRM_QUEUE = "erp", "crm"
REPLAY_QUEUE = "replay"  # bulk and single replays (run_replay), rate-limited inside the job


def stock_queue_name(channel: str) -> str:
    """One queue per outbound channel: a throttled platform never stalls the others."""
    return f"stock-{channel}"


def orders_queue_name(channel: str) -> str:
    """Tracking pushes to a sales channel: its own queue, like stock."""
    return f"orders-{channel}"


# ---- job functions --------------------------------------------------------------------------------------

PROCESS_EVENT = "jobs.events.process_event"
PROCESS_EVENTS = "jobs.events.process_events"
PUSH_STOCK = "jobs.push.push_stock"
PUSH_FAILED = "jobs.push.push_job_failed"  # RQ failure callback: lets go of the channel's pending-push guard
BACKFILL_CHANNEL = "jobs.backfill.backfill_channel"
EXPORT_ORDER = "jobs.export.export_order"
SYNC_CRM = "jobs.crm.sync_crm"
PUSH_TRACKING = "jobs.tracking.push_tracking"
RUN_REPLAY = "jobs.replay.run_replay"
RECONCILE_STOCK = "jobs.reconcile.reconcile_stock"


# ---- job ids (one live job per entity: see Hub.enqueue_once) --------------------------------------------

def event_job_id(event_id: int) -> str:
    return f"event-{event_id}"


def backfill_job_id(channel: str) -> str:
    return f"backfill-{channel}"


def export_job_id(order_id: int) -> str:
    return f"erp-order-{order_id}"


def crm_job_id(order_id: int) -> str:
    return f"crm-order-{order_id}"


def tracking_job_id(shipment_id: int, attempt: int = 1) -> str:
    return f"tracking-{shipment_id}" + (f"-a{attempt}" if attempt > 1 else "")


def replay_job_id(replay_id: int) -> str:
    return f"replay-{replay_id}"


def again_job_id(job_id: str) -> str:
    """The second slot of ``enqueue_once``: a job queued to run after a started one."""
    return f"{job_id}-again"


# ---- Redis keys -----------------------------------------------------------------------------------------

INBOX_KEY = "hub:inbox"  # ids of deliveries stored since the relay last ran (LPUSH in, RPOP out)
PUSH_DUE_KEY = "hub:push:due"  # channel -> when its debounced push falls due (Redis' clock, seconds)
PUSH_WAKE_KEY = "hub:push:wake"  # a newly due push (or held event) wakes the relay from its wait for deliveries
EVENTS_DUE_KEY = "hub:events:held"  # event id -> when its hold is over (Redis' clock, seconds); see Hub.hold_event
LIMIT_PREFIX = "hub:limits"  # the console's sign-in counters (Flask-Limiter's keys start with it)


def held_key(channel: str, sku: str) -> str:
    """The events whose stock report of ``sku`` waits for ``channel``'s own orders (a set)."""
    return f"hub:held:{channel}:{sku}"


def push_pending_key(channel: str) -> str:
    """Set while a push of ``channel`` is debounced or queued: a change meanwhile schedules nothing more."""
    return f"hub:push:{channel}:pending"


def lost_races_key(channel: str) -> str:
    """The SKUs whose last compare-and-set on ``channel`` lost (a hash: SKU -> when)."""
    return f"hub:push:{channel}:lost"


def echo_key(channel: str, item_id: str, quantity: int) -> str:
    """Set by a push for each level it wrote: the channel's webhook reporting that very level is the hub's echo."""
    return f"hub:echo:{channel}:{item_id}:{quantity}"


def backfill_due_key(channel: str) -> str:
    """Set while the hub may be missing a channel's changes (its start, its webhooks just repaired): no stock
    is written to that channel until a backfill of it has run and its orders are applied."""
    return f"hub:backfill:due:{channel}"


def worker_alive_key(worker_name: str) -> str:
    """Set by a running hub worker and refreshed every few seconds (``jobs.worker``): gone soon after the
    process dies, however it died."""
    return f"hub:worker:{worker_name}:alive"


def stock_lock_key(channel: str) -> str:
    """Held while stock is written to (or read and judged for) ``channel``: pushes, reconciles, replays."""
    return f"hub:lock:stock:{channel}"


def backfill_lock_key(channel: str) -> str:
    return f"hub:lock:backfill:{channel}"


def erp_pull_lock_key(kind: str) -> str:
    return f"hub:lock:erp-pull:{kind}"


def export_lock_key(target: str, order_id: int) -> str:
    """One export of an order to ``target`` (erp, crm) at a time."""
    return f"hub:lock:{target}:order:{order_id}"


# ---- Lua scripts ----------------------------------------------------------------------------------------
# They read Redis' clock, so a debounce means the same on every host; effects replication is what lets a
# script write after TIME on Redis 6 (the default from 7).

DUE_ADD = """
-- KEYS[1] a due set (member -> when, Redis' clock), KEYS[2] the wake list
-- ARGV[1] the member, ARGV[2] seconds from now
-- The member falls due then (or stays due sooner: LT); a new or sooner one wakes the relay.
redis.replicate_commands()
local t = redis.call('TIME')
if redis.call('ZADD', KEYS[1], 'LT', 'CH', t[1] + t[2] / 1e6 + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], 1)
  redis.call('LTRIM', KEYS[2], 0, 0)
end
"""

DUE_POP = """
-- KEYS[1..n] due sets; no ARGV
-- Returns, per set, the members due by now (removed), then the seconds until the next one falls due
-- (false: none waits).
redis.replicate_commands()
local t = redis.call('TIME')
local now = t[1] + t[2] / 1e6
local out, nxt = {}, nil
for i, key in ipairs(KEYS) do
  out[i] = redis.call('ZRANGEBYSCORE', key, '-inf', now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first > 0 and (nxt == nil or tonumber(first[2]) < nxt) then nxt = tonumber(first[2]) end
end
out[#KEYS + 1] = nxt and tostring(nxt - now) or false
return out
"""

RELEASE_HELD = """
-- KEYS[1..n-2] held-report sets (held_key), KEYS[n-1] the held events' due set, KEYS[n] the inbox
-- no ARGV
-- Every event still held in those sets goes back to the inbox at once (its order landed); the sets go.
-- Returns how many events were released.
local due, inbox, n = KEYS[#KEYS - 1], KEYS[#KEYS], 0
for i = 1, #KEYS - 2 do
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    if redis.call('ZREM', due, id) == 1 then
      redis.call('LPUSH', inbox, id)
      n = n + 1
    end
  end
  redis.call('DEL', KEYS[i])
end
return n
"""

"""The queue wiring in one place: RQ queue names, job functions (by dotted path, so nothing here imports
a job module), job ids, every Redis key the hub writes, the Lua scripts that move them, and ``Queues``:
how work gets queued (enqueue-once, the push debounce, held events, the relay from the inbox to RQ).

The hub holds one ``Queues`` (``Hub.queues``); nothing here imports the rest of the project.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from redis.exceptions import LockError, RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Dependency, Job, JobStatus

# ---- queues ---------------------------------------------------------------------------------------------

EVENTS_QUEUE = "events"  # processing deliveries, and the scheduler's own jobs
ERP_QUEUE, CRM_QUEUE = "erp", "crm"
REPLAY_QUEUE = "replay"  # bulk and single replays (run_replay), rate-limited inside the job


def stock_queue_name(channel: str) -> str:
    """One queue per outbound channel: a throttled platform never stalls the others."""
    return f"stock-{channel}"


def orders_queue_name(channel: str) -> str:
    """Tracking pushes and payments marked to a sales channel: its own queue, like stock."""
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
MARK_PAID = "jobs.paid_back.mark_paid"
PAYMENT_NOTE = "jobs.paid_back.tell_failed_payment"
RUN_REPLAY = "jobs.replay.run_replay"
RECONCILE_STOCK = "jobs.reconcile.reconcile_stock"


# ---- job ids (one live job per entity: see Hub.enqueue_once) --------------------------------------------

def event_job_id(event_id: int) -> str:
    return f"event-{event_id}"


def backfill_job_id(channel: str) -> str:
    return f"backfill-{channel}"


def verify_job_id(channel: str, sku: str) -> str:
    return f"reconcile-{channel}-{sku}"


def export_job_id(order_id: int) -> str:
    return f"erp-order-{order_id}"


def crm_job_id(order_id: int) -> str:
    return f"crm-order-{order_id}"


def mark_paid_job_id(order_id: int) -> str:
    return f"paid-order-{order_id}"


def payment_note_job_id(payment_id: int) -> str:
    return f"payment-note-{payment_id}"


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


WORKERS_SEEN_KEY = "hub:workers:seen"  # worker name -> when its alive key was last set (Redis' clock, seconds)


def worker_beat(client: redis.Redis, name: str, ttl_s: float) -> None:
    """One heartbeat: the worker's alive key, and its time in ``WORKERS_SEEN_KEY`` (what ``alive_workers``
    counts without scanning the keyspace)."""
    now = _redis_now(client)
    pipe = client.pipeline(transaction=False)
    pipe.set(worker_alive_key(name), 1, ex=int(ttl_s))
    pipe.zadd(WORKERS_SEEN_KEY, {name: now})
    pipe.zremrangebyscore(WORKERS_SEEN_KEY, "-inf", now - 10 * ttl_s)  # long gone: forgotten
    pipe.execute()


def worker_gone(client: redis.Redis, name: str) -> None:
    client.delete(worker_alive_key(name))
    client.zrem(WORKERS_SEEN_KEY, name)


def alive_workers(client: redis.Redis, ttl_s: float) -> int:
    """How many hub workers beat within ``ttl_s`` (one ZCOUNT: ``/readyz`` is polled, a keyspace scan is not
    what a load balancer's probe should cost)."""
    return int(client.zcount(WORKERS_SEEN_KEY, _redis_now(client) - ttl_s, "+inf"))


CLAIMS_KEY = "hub:jobs:claimed"  # job id -> the worker that took it off its queue and has not started it yet

# KEYS: CLAIMS_KEY, then the queues in priority order; ARGV: the worker's name. Takes the first job waiting and
# notes who has it, in one step: a worker killed between its dequeue and the job's start leaves a claim, not a
# job in no list (RQ's BLPOP over several queues keeps no trace of what it popped).
CLAIM = """
for i = 2, #KEYS do
  local id = redis.call('LPOP', KEYS[i])
  if id then
    redis.call('HSET', KEYS[1], id, ARGV[1])
    return {KEYS[i], id}
  end
end
return false
"""


def claim_job(client: redis.Redis, worker_name: str, queue_keys: Sequence[str]) -> tuple[str, str] | None:
    """Take the first job waiting in ``queue_keys`` (in that order) for ``worker_name``; -> (queue key, job id)."""
    got = client.register_script(CLAIM)(keys=[CLAIMS_KEY, *queue_keys], args=[worker_name])  # EVALSHA
    if not got:
        return None
    queue_key, job_id = (v.decode() if isinstance(v, bytes) else v for v in got)
    return queue_key, job_id


def release_claim(client: redis.Redis, job_id: str) -> None:
    """The claimed job has started (the started registry answers for it now) or is no more."""
    client.hdel(CLAIMS_KEY, job_id)


def requeue_claimed(client: redis.Redis, worker_name: str | None = None) -> list[Job]:
    """Claimed jobs that never started, queued again at the front of their queues; -> them. Those of
    ``worker_name`` (it is stopping), or else of every worker whose alive key is gone (killed). A claimed job
    that did start is left to ``Queues.requeue_lost`` (the started registry)."""
    requeued = []
    for raw_id, raw_worker in client.hgetall(CLAIMS_KEY).items():
        job_id, worker = raw_id.decode(), raw_worker.decode()
        if worker != worker_name and (worker_name is not None or client.exists(worker_alive_key(worker))):
            continue
        try:
            job = Job.fetch(job_id, connection=client)
        except NoSuchJobError:
            release_claim(client, job_id)
            continue
        queue = Queue(job.origin, connection=client)
        if job.get_status(refresh=False) == JobStatus.QUEUED and client.lpos(queue.key, job_id) is None:
            queue.enqueue_job(job, at_front=True)
            requeued.append(job)
        release_claim(client, job_id)
    return requeued


def _redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


HELD_LOCK_TTL_S = 15.0  # a held lock outlives its holder's last renewal by this long
HELD_LOCK_RENEW_S = 5.0


class HeldLock:
    """A Redis lock its holder renews (a thread, every ``renew_s``) for as long as it holds it: a worker killed
    while holding it lets go within ``ttl_s``. A fixed TTL had to outlast the longest job (10-15 min), so a
    killed worker's push, export or backfill lock stopped every later one for that long. Same ``acquire`` /
    ``release`` as redis-py's Lock."""

    def __init__(self, client: redis.Redis, name: str, blocking_timeout: float | None = None, blocking: bool = True,
                 ttl_s: float = HELD_LOCK_TTL_S, renew_s: float = HELD_LOCK_RENEW_S) -> None:
        # thread_local=False: the renewing thread uses the token the acquiring one got
        self._lock = client.lock(name, timeout=ttl_s, blocking=blocking, blocking_timeout=blocking_timeout,
                                 thread_local=False)
        self._renew_s = renew_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self._lock.acquire():
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name="held-lock", daemon=True)
        self._thread.start()
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self._lock.release()
        except LockError:  # lapsed meanwhile (Redis was away past the TTL): nothing of ours is left to free
            pass

    def _renew(self) -> None:
        while not self._stop.wait(self._renew_s):
            try:
                self._lock.reacquire()
            except (LockError, RedisError):  # lost or unreachable: the holder's own calls will say so
                return


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


# ---- Queues: how work is queued ------------------------------------------------------------------------

EVENT_JOB_TIMEOUT_S = 300
EVENT_JOB_RESULT_TTL_S = 600
PUSH_JOB_TIMEOUT_S = 900
PUSH_QUEUE_GRACE_S = 60  # how long a queued push may wait for a worker before its guard lapses
BACKFILL_RETRY_S = (2, 5, 10, 30, 60, 120, 300)  # a failed backfill is tried again after these waits (its gate stays)
EXPORT_JOB_TIMEOUT_S = 600
FAILED_JOB_TTL_S = 7 * 24 * 3600
# live, not started: reads state when it runs (READY_TO_ENQUEUE: a dependent on its way to its queue, rq >= 3)
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.READY_TO_ENQUEUE)
RELAY_BATCH = 500  # ids per pipeline
EVENTS_PER_JOB = 25  # a backlog is cut into jobs of this many ids, so every worker takes a share
RELAY_LINGER_S = 0.25  # while the workers are behind, ids gather this long at most before they are queued
RELAY_POLL_S = 0.025
# a live relay, woken by one id, lets the ids of the next few ms join it: at ~150 deliveries/s that is
# one job of ~3-5 ids instead of one job each (RQ's own work per job, in the worker, the relay and
# Redis, cost about as much as processing the delivery)
RELAY_GATHER_S = 0.02
HELD_KEY_MARGIN_S = 60  # a held-report index outlives its hold by this much (then the due set alone has it)
BACKFILL_GATE_TTL_S = 600  # a backfill that never comes (the shop unreachable) holds pushes back this long at most


class DueSet:
    """Members that fall due at a time of Redis' clock, to the millisecond (a sorted set): the debounced
    pushes and the held events. Adding one that is new, or due sooner, wakes the relay."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.key = key
        self._add = client.register_script(DUE_ADD)  # EVALSHA, the text sent once
        self._pop = client.register_script(DUE_POP)

    def add(self, member: str | int, delay_s: float) -> None:
        self._add(keys=[self.key, PUSH_WAKE_KEY], args=[member, delay_s])


def pop_due(*sets: DueSet) -> tuple[list[list[bytes]], float | None]:
    """Members of each set whose time has come (removed, in one script), and the seconds until the next one
    falls due (None: none waits)."""
    *due, wait_s = sets[0]._pop(keys=[s.key for s in sets])
    return due, None if wait_s is None else max(0.0, float(wait_s))


@dataclass
class Queues:
    """How the hub queues work on one Redis: ``client`` and what the config says about the queues."""

    client: redis.Redis
    debounce_s: float = 0.0  # stock_push_debounce_s
    erp: bool = False  # an ERP is configured: changed orders are exported
    crm: bool = False  # a CRM is configured: changed orders are synced
    pushing: Sequence[str] = ()  # the channels stock is written to
    order_channels: Sequence[str] = ()  # the sales channels tracking goes back to
    events_queue: Queue = field(init=False)
    pushes: DueSet = field(init=False)
    held: DueSet = field(init=False)

    def __post_init__(self) -> None:
        self.events_queue = Queue(EVENTS_QUEUE, connection=self.client)
        self.pushes = DueSet(self.client, PUSH_DUE_KEY)
        self.held = DueSet(self.client, EVENTS_DUE_KEY)
        self._release_held = self.client.register_script(RELEASE_HELD)

    def stock_queue(self, channel: str) -> Queue:
        """One queue per outbound channel: a throttled platform never stalls the others."""
        return Queue(stock_queue_name(channel), connection=self.client)

    def queue_names(self) -> list[str]:
        """What a worker listens to, in priority order.

        With a debounce, stock pushes come first: the debounce already gathered their changes, and
        a push that fell due must not wait behind a busy events queue (at 50 orders/s it waited
        seconds). With none (``stock_push_debounce_s: 0``) events come first, so pushes coalesce
        by waiting for the deliveries queued before them.
        """
        exports = [q for q, on in ((ERP_QUEUE, self.erp), (CRM_QUEUE, self.crm)) if on]
        stock = [stock_queue_name(ch) for ch in self.pushing]
        first = stock + [EVENTS_QUEUE] if self.debounce_s > 0 else [EVENTS_QUEUE] + stock
        orders = [orders_queue_name(ch) for ch in sorted(self.order_channels)]
        return first + orders + exports + [REPLAY_QUEUE]

    def enqueue_exports(self, order_ids: set[int] | list[int]) -> None:
        """After the commit that changed these orders: one ERP export and one CRM sync each, where configured."""
        for order_id in sorted(set(order_ids)):
            if self.erp:
                self.enqueue_export(order_id)
            if self.crm:
                self.enqueue_crm(order_id)

    def enqueue_export(self, order_id: int) -> bool:
        return self.enqueue_once(ERP_QUEUE, EXPORT_ORDER, export_job_id(order_id), order_id)

    def enqueue_crm(self, order_id: int) -> bool:
        return self.enqueue_once(CRM_QUEUE, SYNC_CRM, crm_job_id(order_id), order_id)

    def request_backfill(self, channel: str, hold_pushes: bool = True) -> bool:
        """Read what the hub may have missed on ``channel``: one backfill job is queued (``enqueue_once``: a
        waiting one covers every request), retried on failure. ``hold_pushes``: no stock is written there before
        it has run (its backfill gate closes, ``backfill_due_key``; the backfill opens it once what it found is
        applied)."""
        if hold_pushes:
            self.client.set(backfill_due_key(channel), 1, ex=BACKFILL_GATE_TTL_S)
        return self.enqueue_once(EVENTS_QUEUE, BACKFILL_CHANNEL, backfill_job_id(channel), channel,
                                 retry=Retry(max=len(BACKFILL_RETRY_S), interval=list(BACKFILL_RETRY_S)))

    def verify_stock(self, channel: str, sku: str) -> bool:
        """Reconcile one SKU of ``channel`` (``jobs.reconcile``: backfill, read, judge) on its stock queue; one
        waiting job per SKU, retried like a backfill (a reconcile waits for a backfill already running)."""
        return self.enqueue_once(stock_queue_name(channel), RECONCILE_STOCK, verify_job_id(channel, sku), channel,
                                 sku, retry=Retry(max=len(BACKFILL_RETRY_S), interval=list(BACKFILL_RETRY_S)))

    def backfill_on_its_way(self, channel: str) -> bool:
        """A backfill job of ``channel`` is queued or running on a live worker (not merely scheduled for a retry:
        RQ's scheduler, which would queue it, may have died with a Redis outage)."""
        job_id = backfill_job_id(channel)
        for job in Job.fetch_many([job_id, again_job_id(job_id)], connection=self.client):
            if job is not None and self.job_alive(job) and job.get_status(refresh=False) in (
                    JobStatus.QUEUED, JobStatus.STARTED):
                return True
        return False

    def enqueue_once(self, queue_name: str, func: str, job_id: str, *args: int | str,
                     retry: Retry | None = None) -> bool:
        """Queue ``func(*args)`` as job ``job_id`` unless a job for it waits already; False if one does.

        A job that waits (queued, scheduled for a retry, deferred) reads the current state when it
        runs, so it covers this change too. One that has started may have read the state before this
        change: a second job, ``<job_id>-again``, is queued to run after it (an RQ dependency, failure
        allowed). The two ids take turns, so an entity never has more than one waiting job and
        never two running at once.
        """
        slots = (job_id, again_job_id(job_id))
        jobs = Job.fetch_many(list(slots), connection=self.client)
        # a job lost with its worker (queued in no queue, started with no worker) is as good as finished
        statuses = [job.get_status(refresh=False) if job and self.job_alive(job) else None for job in jobs]
        if any(s in WAITING for s in statuses):
            return False
        running = [job for job, s in zip(jobs, statuses, strict=True) if s == JobStatus.STARTED]
        free = [(slot, job) for slot, job, s in zip(slots, jobs, statuses, strict=True) if s != JobStatus.STARTED]
        if not free:  # both started: cannot happen (the second waits for the first); the later one reads fresh
            return False
        slot, old = free[0]
        if old is not None:
            old.delete()  # finished or failed: its outcome is kept in the store
        kwargs = dict(args=args, job_id=slot, description=f"{func.rsplit('.', 1)[-1]}({', '.join(map(str, args))})",
                      timeout=EXPORT_JOB_TIMEOUT_S, result_ttl=EVENT_JOB_RESULT_TTL_S, failure_ttl=FAILED_JOB_TTL_S,
                      unique=True, retry=retry)
        if running:
            # RQ refuses unique with a dependency; two workers racing here write the same job under one id
            kwargs.update(unique=False, depends_on=Dependency(jobs=[running[0].id], allow_failure=True))
        try:
            Queue(queue_name, connection=self.client).enqueue_call(func, **kwargs)
        except DuplicateJobError:  # a concurrent worker queued it just now: that job reads our change
            return False
        return True

    def schedule_push(self, channel: str, delay_s: float | None = None, attempt: int = 1, force: bool = False) -> bool:
        """Queue one push of ``channel`` ``delay_s`` from now (the debounce); False if one is pending.

        Every change in the meantime is picked up by that push: it reads the dirty set when it runs.
        A debounced push waits in ``hub:push:due`` (scored by Redis' clock, to the millisecond) and
        the relay queues it when it falls due (``release_due_pushes``): RQ's scheduler keeps whole
        seconds and looks once a second, which made a 0.5 s debounce cost 0.5-2 s. A retry's
        backoff (seconds to minutes) goes through RQ's scheduler.
        """
        delay_s = self.debounce_s if delay_s is None else delay_s
        # the guard covers the wait and the queue, not the run: the job lets go of it first thing, or, should
        # it fail before that (the store down as it starts) or die, RQ's failure callback or the expiry does
        guard_ms = int((max(delay_s, 1.0) + PUSH_QUEUE_GRACE_S) * 1000)
        client = self.client
        if not client.set(push_pending_key(channel), attempt, nx=not force, px=guard_ms):
            return False
        if delay_s > 0 and attempt == 1:
            self.pushes.add(channel, delay_s)
            return True
        self._enqueue_push(channel, attempt, delay_s)
        return True

    def _enqueue_push(self, channel: str, attempt: int, delay_s: float = 0) -> None:
        queue = self.stock_queue(channel)
        kwargs = dict(args=(channel, attempt), description=f"push_stock({channel}, attempt {attempt})",
                      job_timeout=PUSH_JOB_TIMEOUT_S, result_ttl=EVENT_JOB_RESULT_TTL_S, failure_ttl=FAILED_JOB_TTL_S,
                      on_failure=Callback(PUSH_FAILED))
        if delay_s > 0:
            queue.enqueue_in(timedelta(seconds=delay_s), PUSH_STOCK, **kwargs)
        else:
            queue.enqueue(PUSH_STOCK, **kwargs)

    def release_due_pushes(self) -> float | None:
        """Queue every debounced push that has fallen due; -> seconds until the next one (None: none waits)."""
        (due,), wait_s = pop_due(self.pushes)
        self._queue_pushes(due)
        return wait_s

    def hold_event(self, event_id: int, delay_s: float, keys: list[tuple[str, str]] | None = None) -> None:
        """Hand ``event_id`` back to the relay ``delay_s`` from now, or sooner when an event moves the stock
        of one of ``keys`` ((channel, sku): a stock report waiting for its channel's orders, see
        ``release_held``). It stays ``received`` meanwhile: should Redis lose it, the outbox sweeper queues it."""
        self.held.add(event_id, delay_s)
        if keys:
            with self.client.pipeline(transaction=False) as pipe:
                for channel, sku in keys:
                    pipe.sadd(held_key(channel, sku), event_id)
                    pipe.expire(held_key(channel, sku), int(delay_s) + HELD_KEY_MARGIN_S)
                pipe.execute()

    def release_held(self, keys: list[tuple[str, str]]) -> int:
        """The events held for these (channel, sku) go back to the inbox now (one script); -> how many."""
        if not keys:
            return 0
        return self._release_held(keys=[held_key(ch, sku) for ch, sku in keys] + [self.held.key, INBOX_KEY])

    def release_due(self) -> float | None:
        """Queue the debounced pushes and announce the held events that have fallen due (one script);
        -> seconds until the next one (None: none waits)."""
        (pushes, held), wait_s = pop_due(self.pushes, self.held)
        self._queue_pushes(pushes)
        if held:
            self.client.lpush(INBOX_KEY, *held)
        return wait_s

    def _queue_pushes(self, channels: list[bytes]) -> None:
        for channel in channels:
            self._enqueue_push(channel.decode() if isinstance(channel, bytes) else channel, 1)

    def announce_event(self, event_id: int) -> None:
        """Hand a delivery stored just now to the relay: one LPUSH on the ingest hot path.

        Building an RQ job costs several times more (pickling, a ~20-field hash, two MULTI/EXEC
        round trips); the relay (``hub relay``) does that off the request, in batches.
        """
        self.client.lpush(INBOX_KEY, event_id)

    def relay_step(self, block_s: float) -> int:
        """One turn of ``hub relay``: queue the pushes and held events due, then relay deliveries, waiting at
        most ``block_s`` or until the next push or held event falls due; returns how many it relayed."""
        wait_s = self.release_due()
        return self.relay_inbox(block_s=block_s if wait_s is None else min(block_s, max(wait_s, 0.005)),
                                gather_s=RELAY_GATHER_S)

    def relay_inbox(self, block_s: float = 0, batch: int = RELAY_BATCH, linger_s: float = RELAY_LINGER_S,
                    gather_s: float = 0) -> int:
        """Turn up to ``batch`` announced ids into processing jobs (one pipeline); returns how many.

        Ids that wait together go together: one ``process_events`` job per ``EVENTS_PER_JOB`` ids,
        so a backlog costs one job (and one forked work horse) per slice rather than per event,
        while a lone delivery still goes at once in a job of its own. While jobs are still waiting
        for a worker, the ids gather up to ``linger_s`` more (the workers could not start them
        sooner anyway), so a steady stream under load makes a few large jobs, not one per delivery.
        Waits up to ``block_s`` for the first id (0: do not wait), or until a debounced push is
        scheduled (``schedule_push`` wakes it, so the caller can size its next wait); woken by an id, it
        lets ``gather_s`` pass before taking the ids that came meanwhile with it. An id lost
        between the pop and the enqueue (a crash) is not lost work: its row stays ``received`` for
        the outbox sweeper.
        """
        client = self.client
        ids: list[int] = []
        if block_s > 0:
            first = client.brpop([INBOX_KEY, PUSH_WAKE_KEY], timeout=block_s)
            if first is None or first[0].decode() == PUSH_WAKE_KEY:  # a push fell due sooner: time to look
                return 0
            ids.append(int(first[1]))
            batch -= 1
            if gather_s > 0:
                time.sleep(gather_s)
        ids += [int(i) for i in client.rpop(INBOX_KEY, batch) or []]
        if not ids:
            return 0
        deadline = time.monotonic() + linger_s
        while len(ids) < batch and time.monotonic() < deadline and client.llen(self.events_queue.key):
            time.sleep(RELAY_POLL_S)
            self.release_due_pushes()  # a push falling due meanwhile goes on time
            ids += [int(i) for i in client.rpop(INBOX_KEY, batch - len(ids)) or []]
        jobs = []
        for i in range(0, len(ids), EVENTS_PER_JOB):
            chunk = ids[i:i + EVENTS_PER_JOB]
            jobs.append(Queue.prepare_data(PROCESS_EVENTS, args=(chunk,), timeout=EVENT_JOB_TIMEOUT_S,
                                           description=f"process_events({chunk[0]}..{chunk[-1]}, {len(chunk)} ids)",
                                           result_ttl=EVENT_JOB_RESULT_TTL_S))
        with client.pipeline() as pipe:
            self.events_queue.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()
        return len(ids)

    def enqueue_event(self, event_id: int) -> bool:
        """Queue ``process_event(event_id)`` once; False if a live job for it already exists.

        A job left failed or stopped (e.g. its worker died) is replaced, so the outbox sweeper
        can always get a stuck delivery moving again.
        """
        job_id = event_job_id(event_id)
        kwargs = dict(args=(event_id,), job_id=job_id, description=f"process_event({event_id})",
                      timeout=EVENT_JOB_TIMEOUT_S, result_ttl=EVENT_JOB_RESULT_TTL_S, unique=True)
        try:
            self.events_queue.enqueue_call(PROCESS_EVENT, **kwargs)
            return True
        except DuplicateJobError:
            job = Job.fetch(job_id, connection=self.client)
            if self.job_alive(job):
                return False
            job.delete()
            self.events_queue.enqueue_call(PROCESS_EVENT, **kwargs)
            return True

    def requeue_lost(self) -> list[Job]:
        """Jobs a dead worker was running, queued again at once (same id); -> them. RQ itself only gives up
        on such a job once its registry entry expires (the job's timeout and a minute: up to 16 minutes for a
        push), and then marks it failed; the hub knows sooner, from the worker's alive key."""
        lost = requeue_claimed(self.client)
        for queue in Queue.all(connection=self.client):
            registry = queue.started_job_registry
            for entry in self.client.zrange(registry.key, 0, -1):  # "<job id>:<execution id>"
                try:
                    job = Job.fetch(registry.parse_job_id(entry), connection=self.client)
                except NoSuchJobError:
                    self.client.zrem(registry.key, entry)
                    continue
                if job.get_status(refresh=False) != JobStatus.STARTED or self.job_alive(job):
                    continue
                self.client.zrem(registry.key, entry)
                queue.enqueue_job(job)
                lost.append(job)
        return lost

    def job_alive(self, job: Job) -> bool:
        """Whether ``job`` will still run. Its status alone does not say: a worker killed between taking a
        job off its queue and starting it leaves it ``queued`` in no queue, one killed during the job
        leaves it ``started`` for ever. Queued counts only while the id is in its queue's list; started
        only while the worker that took it is alive (its alive key, gone within seconds of its death)."""
        status = job.get_status(refresh=False)
        client = self.client
        if status == JobStatus.QUEUED:
            if client.lpos(Queue(job.origin, connection=client).key, job.id) is not None:
                return True
            claimer = client.hget(CLAIMS_KEY, job.id)  # taken by a worker, about to start
            return claimer is not None and bool(client.exists(worker_alive_key(claimer.decode())))
        if status == JobStatus.STARTED:
            return bool(job.worker_name) and bool(client.exists(worker_alive_key(job.worker_name)))
        return status in WAITING

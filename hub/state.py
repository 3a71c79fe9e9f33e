"""The hub's per-app state, kept in ``app.extensions["hub"]`` (never in module globals)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Dependency, Job, JobStatus
from sqlalchemy import Engine

from connectors import SALES_KINDS, reads_changes, writes_blind
from connectors.base import Verifier
from domain.ledger import StockPolicy
from domain.orders import OrderRules
from jobs.queueing import (
    BACKFILL_CHANNEL,
    CRM_QUEUE,
    DUE_ADD,
    DUE_POP,
    ERP_QUEUE,
    EVENTS_DUE_KEY,
    EVENTS_QUEUE,
    EXPORT_ORDER,
    INBOX_KEY,
    PROCESS_EVENT,
    PROCESS_EVENTS,
    PUSH_DUE_KEY,
    PUSH_FAILED,
    PUSH_STOCK,
    PUSH_WAKE_KEY,
    RELEASE_HELD,
    REPLAY_QUEUE,
    SYNC_CRM,
    again_job_id,
    backfill_due_key,
    backfill_job_id,
    crm_job_id,
    event_job_id,
    export_job_id,
    held_key,
    orders_queue_name,
    push_pending_key,
    stock_queue_name,
    worker_alive_key,
)
from store.deliveries import DeliveryStore

from .config import Config
from .metrics import Metrics
from .redis import BACKFILL_GATE_TTL_S, RedisHandle

logger = logging.getLogger(__name__)
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


def stock_policy(config: Config) -> StockPolicy:
    """Where each channel's stock lives and how the hub treats it, from the config."""
    chans = config.channels.values()
    return StockPolicy(warehouses={c.id: tuple(dict.fromkeys(c.locations.values())) for c in chans},
                       buffers={c.id: c.stock_buffer for c in chans},
                       authority={c.id: c.stock_authority for c in chans},
                       pushing=tuple(c.id for c in chans if c.pushes_stock),
                       locations={c.id: dict(c.locations) for c in chans},
                       report_hold_s=config.stock_report_hold_s,
                       reads=frozenset(c.id for c in chans if reads_changes(c) and writes_blind(c)))


def order_rules(config: Config) -> OrderRules:
    """What the config says about orders, payments and shipments."""
    chans = config.channels.values()
    return OrderRules(match_channels={c.id: c.match_channel for c in chans if c.match_keys},
                      sales_channels=frozenset(c.id for c in chans if c.kind in SALES_KINDS),
                      api_channels=frozenset(c.id for c in chans if c.kind in SALES_KINDS and c.calls_api),
                      sla_days=dict(config.carrier_sla_days), sla_default_days=config.carrier_sla_default_days,
                      crm_notes=config.crm is not None)


@dataclass
class Hub:
    config: Config
    engine: Engine
    redis: RedisHandle
    verifiers: dict[str, Verifier]
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.deliveries = DeliveryStore(self.engine)
        self.events_queue = Queue(EVENTS_QUEUE, connection=self.redis.client)
        self.stock_policy = stock_policy(self.config)
        self.order_rules = order_rules(self.config)
        self._due_add = self.redis.client.register_script(DUE_ADD)  # EVALSHA, the text sent once
        self._due_pop = self.redis.client.register_script(DUE_POP)
        self._release_held = self.redis.client.register_script(RELEASE_HELD)

    def stock_queue(self, channel: str) -> Queue:
        """One queue per outbound channel: a throttled platform never stalls the others."""
        return Queue(stock_queue_name(channel), connection=self.redis.client)

    def queue_names(self) -> list[str]:
        """What a worker listens to, in priority order.

        With a debounce, stock pushes come first: the debounce already gathered their changes, and
        a push that fell due must not wait behind a busy events queue (at 50 orders/s it waited
        seconds). With none (``stock_push_debounce_s: 0``) events come first, so pushes coalesce
        by waiting for the deliveries queued before them.
        """
        exports = [q for q, on in ((ERP_QUEUE, self.config.erp), (CRM_QUEUE, self.config.crm)) if on]
        stock = [stock_queue_name(ch) for ch in self.stock_policy.pushing]
        first = stock + [EVENTS_QUEUE] if self.config.stock_push_debounce_s > 0 else [EVENTS_QUEUE] + stock
        orders = [orders_queue_name(ch) for ch in sorted(self.order_rules.api_channels)]
        return first + orders + exports + [REPLAY_QUEUE]

    def enqueue_exports(self, order_ids: set[int] | list[int]) -> None:
        """After the commit that changed these orders: one ERP export and one CRM sync each, where configured."""
        for order_id in sorted(set(order_ids)):
            if self.config.erp:
                self.enqueue_once(ERP_QUEUE, EXPORT_ORDER, export_job_id(order_id), order_id)
            if self.config.crm:
                self.enqueue_crm(order_id)

    def enqueue_crm(self, order_id: int) -> bool:
        return self.enqueue_once(CRM_QUEUE, SYNC_CRM, crm_job_id(order_id), order_id)

    def request_backfill(self, channel: str, hold_pushes: bool = True) -> bool:
        """Read what the hub may have missed on ``channel``: one backfill job is queued (``enqueue_once``: a
        waiting one covers every request), retried on failure. ``hold_pushes``: no stock is written there before
        it has run (its backfill gate closes, ``backfill_due_key``; the backfill opens it once what it found is
        applied)."""
        if hold_pushes:
            self.redis.client.set(backfill_due_key(channel), 1, ex=BACKFILL_GATE_TTL_S)
        return self.enqueue_once(EVENTS_QUEUE, BACKFILL_CHANNEL, backfill_job_id(channel), channel,
                                 retry=Retry(max=len(BACKFILL_RETRY_S), interval=list(BACKFILL_RETRY_S)))

    def backfill_on_its_way(self, channel: str) -> bool:
        """A backfill job of ``channel`` is queued or running on a live worker (not merely scheduled for a retry:
        RQ's scheduler, which would queue it, may have died with a Redis outage)."""
        job_id = backfill_job_id(channel)
        for job in Job.fetch_many([job_id, again_job_id(job_id)], connection=self.redis.client):
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
        jobs = Job.fetch_many(list(slots), connection=self.redis.client)
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
            Queue(queue_name, connection=self.redis.client).enqueue_call(func, **kwargs)
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
        delay_s = self.config.stock_push_debounce_s if delay_s is None else delay_s
        # the guard covers the wait and the queue, not the run: the job lets go of it first thing, or, should
        # it fail before that (the store down as it starts) or die, RQ's failure callback or the expiry does
        guard_ms = int((max(delay_s, 1.0) + PUSH_QUEUE_GRACE_S) * 1000)
        client = self.redis.client
        if not client.set(push_pending_key(channel), attempt, nx=not force, px=guard_ms):
            return False
        if delay_s > 0 and attempt == 1:
            self._due_add(keys=[PUSH_DUE_KEY, PUSH_WAKE_KEY], args=[channel, delay_s])
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
        (due,), wait_s = self._pop_due(PUSH_DUE_KEY)
        self._queue_pushes(due)
        return wait_s

    def hold_event(self, event_id: int, delay_s: float, keys: list[tuple[str, str]] | None = None) -> None:
        """Hand ``event_id`` back to the relay ``delay_s`` from now, or sooner when an event moves the stock
        of one of ``keys`` ((channel, sku): a stock report waiting for its channel's orders, see
        ``release_held``). It stays ``received`` meanwhile: should Redis lose it, the outbox sweeper queues it."""
        self._due_add(keys=[EVENTS_DUE_KEY, PUSH_WAKE_KEY], args=[event_id, delay_s])
        if keys:
            with self.redis.client.pipeline(transaction=False) as pipe:
                for channel, sku in keys:
                    pipe.sadd(held_key(channel, sku), event_id)
                    pipe.expire(held_key(channel, sku), int(delay_s) + HELD_KEY_MARGIN_S)
                pipe.execute()

    def release_held(self, keys: list[tuple[str, str]]) -> int:
        """The events held for these (channel, sku) go back to the inbox now (one script); -> how many."""
        if not keys:
            return 0
        return self._release_held(keys=[held_key(ch, sku) for ch, sku in keys] + [EVENTS_DUE_KEY, INBOX_KEY])

    def release_due(self) -> float | None:
        """Queue the debounced pushes and announce the held events that have fallen due (one script);
        -> seconds until the next one (None: none waits)."""
        (pushes, held), wait_s = self._pop_due(PUSH_DUE_KEY, EVENTS_DUE_KEY)
        self._queue_pushes(pushes)
        if held:
            self.redis.client.lpush(INBOX_KEY, *held)
        return wait_s

    def _pop_due(self, *keys: str) -> tuple[list[list[bytes]], float | None]:
        """Members of each sorted set whose time has come (removed), and the seconds until the next one."""
        *due, wait_s = self._due_pop(keys=list(keys))
        return due, None if wait_s is None else max(0.0, float(wait_s))

    def _queue_pushes(self, channels: list[bytes]) -> None:
        for channel in channels:
            self._enqueue_push(channel.decode() if isinstance(channel, bytes) else channel, 1)

    def announce_event(self, event_id: int) -> None:
        """Hand a delivery stored just now to the relay: one LPUSH on the ingest hot path.

        Building an RQ job costs several times more (pickling, a ~20-field hash, two MULTI/EXEC
        round trips); the relay (``hub relay``) does that off the request, in batches.
        """
        self.redis.client.lpush(INBOX_KEY, event_id)

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
        client = self.redis.client
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
            job = Job.fetch(job_id, connection=self.redis.client)
            if self.job_alive(job):
                return False
            job.delete()
            self.events_queue.enqueue_call(PROCESS_EVENT, **kwargs)
            return True

    def job_alive(self, job: Job) -> bool:
        """Whether ``job`` will still run. Its status alone does not say: a worker killed between taking a
        job off its queue and starting it leaves it ``queued`` in no queue, one killed during the job
        leaves it ``started`` for ever. Queued counts only while the id is in its queue's list; started
        only while the worker that took it is alive (its alive key, gone within seconds of its death)."""
        status = job.get_status(refresh=False)
        client = self.redis.client
        if status == JobStatus.QUEUED:
            return client.lpos(Queue(job.origin, connection=client).key, job.id) is not None
        if status == JobStatus.STARTED:
            return bool(job.worker_name) and bool(client.exists(worker_alive_key(job.worker_name)))
        return status in WAITING


def current_hub() -> Hub:
    return current_app.extensions["hub"]

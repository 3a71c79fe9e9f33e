"""The hub's RQ workers: RQ's own, with a command listener that lets go within a fraction of a second.

RQ listens for commands (stop a job, shut down) on a pubsub thread that waits up to 60 s per read.
When the worker stops it unsubscribes first and then joins that thread; redis-py >= 8.2 joins
without a timeout, and when the thread has already read the unsubscribe reply it is waiting, not
reading, so the stop waited out the rest of the 60 s (a burst worker in the tests, ``hub worker``
on SIGTERM). Here the thread wakes every ``LISTEN_WAKE_S``: a stop takes at most that long.

While Redis is away RQ's worker tries again with a doubling wait of up to 60 s, so a worker could sit
idle for a minute after Redis was back; here the wait stops growing at ``REDIS_WAIT_CAP_S``.

Taking a job: RQ pops it with one BLPOP over the worker's queues, and a worker killed before the job is in
the started registry (milliseconds later) took it with it, for ever: queued in no queue. Here a worker claims
it (``jobs.queueing.claim_job``: the pop and a note of who has it, one Lua step), and the task sweep queues a
dead worker's claims again. No blocking pop can do that across several queues, so an idle worker looks again
after a wait that doubles from ``CLAIM_POLL_MIN_S`` to ``CLAIM_POLL_MAX_S``.

RQ's scheduler (the process that queues jobs put off: a retry's wait, a delayed push) dies with Redis, and RQ
starts it again only at its maintenance, every 10 minutes: until then no job put off ran, and one waited on as
queued (``enqueue_once``) kept every later request out. Here maintenance comes every ``SCHEDULER_CHECK_S``, and
an idle worker looks up from its queues as often to do it (each round is a few SET NX: the registries are
cleaned at most every 15 minutes whatever the interval).

Whether a started job still has a worker: RQ's registry entry for it lasts 90 s past its last
extension (and a job run in the worker's own process extends it never), so a worker killed during a
job looked alive for a minute and a half or more. Each hub worker keeps a short-lived key of its own
(``hub.redis.worker_alive_key``) refreshed from a thread while the process lives; ``Hub.job_alive``
asks that key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import DequeueTimeout, NoSuchJobError
from rq.job import Job

from hub.redis import WORKER_ALIVE_TTL_S
from jobs.queueing import claim_job, release_claim, requeue_claimed, worker_beat, worker_gone

LISTEN_WAKE_S = 0.2  # the command thread's longest wait; a command itself still arrives at once
REDIS_WAIT_CAP_S = 5.0  # longest wait between tries to reach Redis again (RQ's own: 60 s)
ALIVE_REFRESH_S = 2.0  # how often the alive key is set again (it lasts WORKER_ALIVE_TTL_S)
CLAIM_POLL_MIN_S, CLAIM_POLL_MAX_S = 0.002, 0.025  # an idle worker's wait between looks at its queues
SCHEDULER_CHECK_S = 10  # RQ's maintenance (its scheduler started again if it died): RQ's own interval is 600 s

logger = logging.getLogger(__name__)


class _AliveKey(threading.Thread):
    """Sets a worker's alive key every ``ALIVE_REFRESH_S`` until stopped; a Redis outage is waited out."""

    def __init__(self, connection: redis.Redis, name: str) -> None:
        super().__init__(name="hub-worker-alive", daemon=True)
        self.connection, self.name = connection, name
        self.stopped = threading.Event()

    def beat(self) -> None:
        try:
            worker_beat(self.connection, self.name, WORKER_ALIVE_TTL_S)
        except redis.RedisError as exc:
            logger.debug("worker alive key not set: %s", exc)

    def run(self) -> None:
        while not self.stopped.wait(ALIVE_REFRESH_S):
            self.beat()

    def stop(self) -> None:
        self.stopped.set()
        self.join(ALIVE_REFRESH_S + 1)
        try:
            worker_gone(self.connection, self.name)
        except redis.RedisError:
            pass


class _ClaimingQueue(Queue):
    """RQ's queue with a dequeue that claims (see the module's doc); ``claimer`` is the worker's name."""

    claimer = ""

    @classmethod
    def dequeue_any(cls, queues: Iterable[Queue], timeout: int | None, connection: redis.Redis,
                    job_class: type[Job] | None = None, serializer: Any = None,
                    death_penalty_class: Any = None) -> tuple[Job, Queue] | None:
        keys = [queue.key for queue in queues]
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = CLAIM_POLL_MIN_S
        job_cls = job_class or Job
        while True:
            claimed = claim_job(connection, cls.claimer, keys)
            if claimed is not None:
                queue_key, job_id = claimed
                queue = cls.from_queue_key(queue_key, connection=connection, job_class=job_cls,
                                           serializer=serializer, death_penalty_class=death_penalty_class)
                try:
                    return job_cls.fetch(job_id, connection=connection, serializer=serializer), queue
                except NoSuchJobError:  # deleted while it waited: RQ's own dequeue passes over it too
                    release_claim(connection, job_id)
                    continue
                except Exception as exc:
                    release_claim(connection, job_id)
                    exc.job_id, exc.queue = job_id, queue  # type: ignore[attr-defined]  # as RQ reports it
                    raise
            if deadline is None:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise DequeueTimeout(timeout, keys)
            time.sleep(min(wait, left))
            wait = min(wait * 2, CLAIM_POLL_MAX_S)


class _PromptStop:
    """Mixin: RQ's ``subscribe`` with a short wait in the listener thread; back within seconds of Redis;
    an alive key for as long as the worker runs."""

    max_connection_wait_time = REDIS_WAIT_CAP_S  # RQ doubles its wait per failed try up to this
    _alive: _AliveKey | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", SCHEDULER_CHECK_S)
        super().__init__(*args, **kwargs)
        self.queue_class = type("ClaimingQueue", (_ClaimingQueue,), {"claimer": self.name})

    @property
    def dequeue_timeout(self) -> int:
        """An idle worker's wait for a job before its loop comes round (heartbeat, maintenance): RQ's is its TTL
        less 15 s (405 s), so a dead scheduler waited that long on an idle worker whatever the interval."""
        return min(super().dequeue_timeout, SCHEDULER_CHECK_S)

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        release_claim(self.connection, job.id)  # in the started registry now

    def register_birth(self) -> None:
        super().register_birth()
        self._alive = _AliveKey(self.connection, self.name)
        self._alive.beat()  # before the first job can start
        self._alive.start()

    def register_death(self) -> None:
        if self._alive is not None:
            self._alive.stop()
            self._alive = None
        try:
            requeue_claimed(self.connection, self.name)  # taken, not started: stopped between the two
            super().register_death()
        except redis.RedisError as exc:  # Redis away as the worker stops: its key expires by itself
            logger.warning("worker death not registered: %s", exc)

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=LISTEN_WAKE_S, daemon=True, exception_handler=self._pubsub_exception_handler)


class HubWorker(_PromptStop, SimpleWorker):
    """Jobs run in the worker process (``hub worker``, and the tests' burst workers)."""


class HubForkWorker(_PromptStop, Worker):
    """Each job in a forked work horse (``hub worker --fork``)."""

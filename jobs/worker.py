"""The hub's RQ workers: RQ's own, with a command listener that lets go within a fraction of a second.

RQ listens for commands (stop a job, shut down) on a pubsub thread that waits up to 60 s per read.
When the worker stops it unsubscribes first and then joins that thread; redis-py >= 8.2 joins
without a timeout, and when the thread has already read the unsubscribe reply it is waiting, not
reading, so the stop waited out the rest of the 60 s (a burst worker in the tests, ``hub worker``
on SIGTERM). Here the thread wakes every ``LISTEN_WAKE_S``: a stop takes at most that long.

While Redis is away RQ's worker tries again with a doubling wait of up to 60 s, so a worker could sit
idle for a minute after Redis was back; here the wait stops growing at ``REDIS_WAIT_CAP_S``.
"""

from __future__ import annotations

from rq import SimpleWorker, Worker

LISTEN_WAKE_S = 0.2  # the command thread's longest wait; a command itself still arrives at once
REDIS_WAIT_CAP_S = 5.0  # longest wait between tries to reach Redis again (RQ's own: 60 s)


class _PromptStop:
    """Mixin: RQ's ``subscribe`` with a short wait in the listener thread; back within seconds of Redis."""

    max_connection_wait_time = REDIS_WAIT_CAP_S  # RQ doubles its wait per failed try up to this

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

"""The hub's RQ workers: RQ's own, with a command listener that lets go within a fraction of a second.

RQ listens for commands (stop a job, shut down) on a pubsub thread that waits up to 60 s per read.
When the worker stops it unsubscribes first and then joins that thread; redis-py >= 8.2 joins
without a timeout, and when the thread has already read the unsubscribe reply it is waiting, not
reading, so the stop waited out the rest of the 60 s (a burst worker in the tests, ``hub worker``
on SIGTERM). Here the thread wakes every ``LISTEN_WAKE_S``: a stop takes at most that long.
"""

from __future__ import annotations

from rq import SimpleWorker, Worker

LISTEN_WAKE_S = 0.2  # the command thread's longest wait; a command itself still arrives at once


class _PromptStop:
    """Mixin: RQ's ``subscribe`` with a short wait in the listener thread."""

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

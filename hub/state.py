"""The hub's per-app state, kept in ``app.extensions["hub"]`` (never in module globals)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from sqlalchemy import Engine

from connectors.base import Verifier

from .config import Config
from .metrics import Metrics
from .redis import EVENTS_QUEUE, RedisHandle

logger = logging.getLogger(__name__)
EVENT_JOB_TIMEOUT_S = 300
EVENT_JOB_RESULT_TTL_S = 600
PROCESS_EVENT = "jobs.events.process_event"


def event_job_id(event_id: int) -> str:
    return f"event-{event_id}"


@dataclass
class Hub:
    config: Config
    engine: Engine
    redis: RedisHandle
    verifiers: dict[str, Verifier]
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.events_queue = Queue(EVENTS_QUEUE, connection=self.redis.client)

    def enqueue_new_event(self, event_id: int) -> None:
        """Queue the job of a delivery stored just now (no job can exist for it yet)."""
        self.events_queue.enqueue_call(PROCESS_EVENT, args=(event_id,), job_id=event_job_id(event_id),
                                       description=f"process_event({event_id})", timeout=EVENT_JOB_TIMEOUT_S,
                                       result_ttl=EVENT_JOB_RESULT_TTL_S)

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
            if job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.STARTED,
                                                 JobStatus.SCHEDULED, JobStatus.DEFERRED):
                return False
            job.delete()
            self.events_queue.enqueue_call(PROCESS_EVENT, **kwargs)
            return True


def current_hub() -> Hub:
    return current_app.extensions["hub"]

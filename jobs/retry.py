"""The one backoff policy of the jobs that call platforms: what the platform asked for, else exponential from a
base, capped, with jitter so many jobs failing together do not retry in lockstep."""

from __future__ import annotations

import math
import random

JITTER = (1.0, 1.25)  # the delay is stretched by a random factor in this range


def backoff_s(attempt: int, base_s: float, cap_s: float, asked_s: float | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: ``asked_s`` (the platform's Retry-After) when it gave one, else
    ``base_s`` * 2^(attempt-1); at most ``cap_s``; then jittered."""
    delay = asked_s if asked_s else base_s * 2 ** (attempt - 1)
    return min(cap_s, delay) * random.uniform(*JITTER)


def whole_seconds(delay_s: float) -> int:
    """A delay for RQ's scheduler, which keeps whole seconds: never shorter than asked."""
    return math.ceil(delay_s) if delay_s > 0 else 0

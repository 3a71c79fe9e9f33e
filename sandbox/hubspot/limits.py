"""HubSpot's API rate limits, for the HubSpot sandbox: the rolling TEN_SECONDLY_ROLLING window, the DAILY cap
and the CRM search endpoints' own per-second limit, with the headers and 429 bodies HubSpot sends.

Facts (developers.hubspot.com usage guidelines and changelog; HubSpot's OpenAPI specs; captured answers):
private apps get 100 (Free/Starter) or 190 (Professional/Enterprise) calls per rolling 10 s and a daily
allowance; every counted answer carries ``X-HubSpot-RateLimit-Max``, ``-Remaining``,
``-Interval-Milliseconds`` (10000) and the ``-Daily``/``-Daily-Remaining`` pair. Search endpoints are exempt from
the ten-secondly window (``x-hubspot-rate-limit-exemptions: ["ten-secondly"]``) and limited to five calls per
second per account; their 429 says "You have reached your secondly limit." with category RATE_LIMITS and, in
the captured answers, neither errorType nor policyName.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sandbox.hubspot import wire

SEARCH_WINDOW_S = 1.0
DAY_S = 86_400.0


class Limits:
    """The portal's counters; ``admit`` is called once per authenticated API call."""

    def __init__(self, ten_second_limit: int, interval_ms: int, search_per_second: int,
                 daily_limit: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # the windows' seconds; a test may set one that moves only when told
        self.ten_second_limit, self.interval_ms = ten_second_limit, interval_ms
        self.search_per_second, self.daily_limit = search_per_second, daily_limit
        self.refused: dict[str, int] = {}  # policy -> 429s
        self._lock = threading.Lock()
        self._hits: deque[float] = deque()
        self._search_hits: deque[float] = deque()
        self._day: tuple[int, int] = (0, 0)  # (day number, calls counted that day)

    @property
    def calls_today(self) -> int:
        """Calls counted against today's DAILY allowance."""
        with self._lock:
            return self._day[1] if self._day[0] == int(time.time() // DAY_S) else 0

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._search_hits.clear()
            self._day = (0, 0)
            self.refused = {}

    def admit(self, search: bool) -> tuple[tuple[dict[str, Any], dict[str, str]] | None, dict[str, str]]:
        """Count the call: (None, headers for the answer), or ((429 body, its headers), {}) when a limit is
        used up. A refused call takes no slot, so waiting one full interval always frees one."""
        now = self.clock()
        with self._lock:
            day = int(time.time() // DAY_S)
            used = self._day[1] if self._day[0] == day else 0
            daily = {} if self.daily_limit is None else {
                "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - used - 1))}
            if self.daily_limit is not None and used >= self.daily_limit:
                return self._refuse("DAILY", {**daily, "X-HubSpot-RateLimit-Daily-Remaining": "0"}), {}
            window, limit, span = ((self._search_hits, self.search_per_second, SEARCH_WINDOW_S) if search else
                                   (self._hits, self.ten_second_limit, self.interval_ms / 1000))
            while window and now - window[0] >= span:
                window.popleft()
            # search answers carry no ten-secondly headers: search is outside that window
            headers = {} if search else {"X-HubSpot-RateLimit-Max": str(limit),
                                         "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms)}
            if len(window) >= limit:
                if search:
                    return self._refuse("SECONDLY", {}), {}
                return self._refuse("TEN_SECONDLY_ROLLING", {**headers, "X-HubSpot-RateLimit-Remaining": "0"}), {}
            window.append(now)
            self._day = (day, used + 1)
            if not search:
                headers["X-HubSpot-RateLimit-Remaining"] = str(limit - len(window))
            return None, {**headers, **daily}

    def _refuse(self, policy: str, headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        self.refused[policy] = self.refused.get(policy, 0) + 1
        return body_for(policy), headers


def body_for(policy: str) -> dict[str, Any]:
    """The 429 body for a policy: TEN_SECONDLY_ROLLING, DAILY or SECONDLY (search)."""
    if policy == "SECONDLY":  # the search limit's body, as captured
        return {"status": "error", "message": "You have reached your secondly limit.",
                "correlationId": wire.correlation_id(), "category": "RATE_LIMITS"}
    body = {"status": "error", "message": f"You have reached your {policy.lower()} limit.", "errorType": "RATE_LIMIT",
            "correlationId": wire.correlation_id(), "policyName": policy}
    if policy == "TEN_SECONDLY_ROLLING":
        body["groupName"] = f"publicapi:private_app-api-calls-ten-secondly:{wire.APP_ID}:{wire.PORTAL_ID}"
    return body

"""What ``hub demo`` talks to: the hub's admin API and each sandbox's control API, over HTTP only (never
the hub's database), with errors that say which system failed and what to do about it, and a wait
that polls until an effect shows or says what it saw instead."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

T = TypeVar("T")
POLL_S = 0.25
CALL_TIMEOUT_S = 15
STARTING_POLL_S = 0.2  # how often a system still starting is asked again
HEALTH_EVERY_S = 2.0  # while waiting for an effect, how often the hub's own health is looked at


class DemoError(Exception):
    """The demo cannot go on; the message says what did not happen and where to look."""


class NotYet(Exception):
    """A probe's effect has not shown yet; the message is what it saw instead."""


class Remote:
    """One system's HTTP API: JSON in and out; a refusal or an unreachable system is a DemoError."""

    def __init__(self, name: str, base: str, unreachable_hint: str, headers: dict[str, str] | None = None) -> None:
        self.name, self.base, self.hint = name, base.rstrip("/"), unreachable_hint
        self.http = requests.Session()
        self.http.headers.update(headers or {})

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, data: str | None = None) -> Any:
        return self._call("POST", path, json=body if data is None else None, data=data)

    def answers(self, path: str) -> requests.Response:
        """The raw answer (any status); DemoError only when nothing answers."""
        try:
            return self.http.get(self.base + path, timeout=CALL_TIMEOUT_S)
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None

    def wait_up(self, path: str, within_s: float) -> None:
        """Until something answers ``path`` (a system still starting, e.g. ``hub run``'s sandboxes a moment
        after its banner); DemoError, as ``answers``, once ``within_s`` has passed."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                self.http.get(self.base + path, timeout=CALL_TIMEOUT_S)
                return
            except requests.RequestException as exc:
                if time.monotonic() >= deadline:
                    raise self._unreachable(exc) from None
                time.sleep(STARTING_POLL_S)

    def _unreachable(self, exc: Exception) -> DemoError:
        return DemoError(f"{self.name} is not answering at {self.base} ({type(exc).__name__}). {self.hint}")

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self.http.request(method, self.base + path, timeout=CALL_TIMEOUT_S, **kw)
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None
        if resp.status_code >= 300:
            raise DemoError(f"{self.name}: {method} {path} answered {resp.status_code}: {resp.text.strip()[:400]}")
        try:
            return resp.json()
        except ValueError:
            raise DemoError(f"{self.name}: {method} {path} answered something that is not JSON") from None


class Clock:
    """Waits for effects, each with a timeout; remembers when the current step began (for the narration)."""

    def __init__(self, timeout_s: float, on_timeout: Callable[[], str] | None = None,
                 health: Callable[[], str] | None = None) -> None:
        self.timeout_s = timeout_s
        self.on_timeout = on_timeout  # more context for a timeout's message (e.g. the hub's failed events)
        self.health = health  # what is wrong with the hub ("" when nothing); raises DemoError when it is gone
        self.started = time.monotonic()

    def mark(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.1f} s"

    def until(self, what: str, probe: Callable[[], T], timeout_s: float | None = None, hint: str = "") -> T:
        """``probe()``'s value once it stops raising NotYet; DemoError after the timeout, with what it saw."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        seen, unwell, looked = "", "", time.monotonic()
        while True:
            try:
                return probe()
            except (NotYet, DemoError) as exc:
                seen = str(exc)
            now = time.monotonic()
            if self.health and (now - looked >= HEALTH_EVERY_S or now >= deadline):
                unwell, looked = self.health(), now  # the hub gone: its DemoError, not this wait's
            if now >= deadline:
                extra = "\n".join(x for x in (f"   {unwell}" if unwell else "",
                                              self.on_timeout() if self.on_timeout else "") if x)
                raise DemoError(f"waited {limit:.0f} s for {what}, in vain" + (f"; last seen: {seen}" if seen else "")
                                + (f". {hint}" if hint else "") + (f"\n{extra}" if extra else ""))
            time.sleep(POLL_S)


def one(rows: list[dict[str, Any]], what: str, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The one row matching ``pred``; NotYet when there is none; DemoError when there are several (a duplicate)."""
    found = [r for r in rows if pred(r)]
    if not found:
        raise NotYet(f"no {what} yet")
    if len(found) > 1:
        raise DemoError(f"{len(found)} {what}s where there should be one")
    return found[0]


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    """Plain text columns, the first left-aligned, the others too (words, not numbers)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return [fmt(header), line, *(fmt(r) for r in rows)]

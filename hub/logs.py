"""Logging: JSON lines where a machine reads them (stderr not a terminal, or ``HUB_LOG_FORMAT=json``), one
readable line each at a terminal. Fields come from ``extra=``; nothing here ever formats a request body, a
header value or a secret. Colour codes in a message (RQ colours its own) are dropped."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

_STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_COLOUR = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STD and not k.startswith("_")}


def _plain(text: str) -> str:
    return _COLOUR.sub("", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "msg": _plain(record.getMessage())}
        out.update(_fields(record))
        if record.exc_info:
            out["exc"] = _plain(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


class LineFormatter(logging.Formatter):
    """``12:00:01 INFO  jobs.push: stock pushed channel=woo summary='...'``, a traceback on the lines below."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extra = " ".join(f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}"
                         for k, v in _fields(record).items())
        line = f"{at} {record.levelname:<5} {record.name}: {_plain(record.getMessage())}"
        line += f" {extra}" if extra else ""
        if record.exc_info:
            line += "\n" + _plain(self.formatException(record.exc_info))
        return line


QUIET_LOGGERS = ("stripe",)  # logs every API call at INFO and the answers' bodies (customers' data) at DEBUG
# RQ says four lines per job and one per cron tick at INFO (a terminal scrolls with sweeps that did nothing);
# the hub's jobs log what they changed themselves, and RQ's warnings and errors still show
CHATTY_LOGGERS = ("rq.worker", "rq.cron", "rq.scheduler", "rq.queue")


def formatter_for(stream: TextIO, env: dict[str, str] | None = None) -> logging.Formatter:
    """JSON unless ``stream`` is a terminal; ``HUB_LOG_FORMAT`` (json or line) decides when set."""
    choice = (env if env is not None else os.environ).get("HUB_LOG_FORMAT", "").lower()
    if choice == "json" or (choice != "line" and not stream.isatty()):
        return JsonFormatter()
    return LineFormatter()


def chatty_level(level: str) -> str:
    """The level RQ's own loggers get when the hub logs at ``level`` (RQ's worker sets it again: pass it)."""
    return "DEBUG" if level.upper() == "DEBUG" else "WARNING"


def configure_logging(level: str = "INFO") -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level(level))
    root = logging.getLogger()
    if any(getattr(h, "_hub", False) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(sys.stderr))
    handler._hub = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())

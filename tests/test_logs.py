"""The hub's log lines: JSON for machines, one readable line at a terminal, never a colour code."""

from __future__ import annotations

import io
import json
import logging

from hub.logs import JsonFormatter, LineFormatter, formatter_for


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "rq.worker", "levelname": "INFO", "levelno": logging.INFO, "msg": msg})
    record.__dict__.update(extra)
    return record


def test_rq_colour_codes_never_reach_a_json_line():
    """`hub run`'s terminal showed RQ's ANSI colours inside the JSON lines."""
    line = json.loads(JsonFormatter().format(_record("\x1b[32mevents\x1b[39m: Job OK (\x1b[34mabc\x1b[39m)")))
    assert line["msg"] == "events: Job OK (abc)" and line["logger"] == "rq.worker"


def test_a_terminal_gets_one_readable_line_and_a_pipe_gets_json():
    text = LineFormatter().format(_record("stock pushed", channel="woo", summary="2 written in 1 call"))
    assert text.endswith(" INFO  rq.worker: stock pushed channel=woo summary='2 written in 1 call'"), text
    assert "\x1b" not in text and "\n" not in text
    assert isinstance(formatter_for(_Tty(), env={}), LineFormatter)
    assert isinstance(formatter_for(io.StringIO(), env={}), JsonFormatter)
    assert isinstance(formatter_for(_Tty(), env={"HUB_LOG_FORMAT": "json"}), JsonFormatter)
    assert isinstance(formatter_for(io.StringIO(), env={"HUB_LOG_FORMAT": "line"}), LineFormatter)


def test_rq_says_nothing_per_job_at_info_but_does_at_debug():
    """`hub run`'s terminal scrolled ~6 RQ lines every 5 s for sweeps and pulls that changed nothing."""
    from hub.logs import CHATTY_LOGGERS, configure_logging

    root = logging.getLogger()
    before = root.level, {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    try:
        configure_logging("INFO")
        assert not logging.getLogger("rq.worker").isEnabledFor(logging.INFO)  # "Job OK", "result is kept", ...
        assert logging.getLogger("rq.worker").isEnabledFor(logging.WARNING)  # a failed job still shows
        assert logging.getLogger("hub.cli").isEnabledFor(logging.INFO)
        configure_logging("DEBUG")
        assert logging.getLogger("rq.cron").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(before[0])
        for name, level in before[1].items():
            logging.getLogger(name).setLevel(level)

"""Log lines for people (``text``) or for log pipelines (``json``): NEWSSTREAM_LOG_FORMAT.

One configuration for the CLI and the Faust worker (which would otherwise install its
own). A JSON line carries time, level, logger and message, and, where the code logged
them as ``extra``, the article id, stage, topic, partition and offset, so a log pipeline
can find every line about one record.

The worker's lines pass ``RepeatFilter``: a client that lost its connection logs the same
line many times a second (aiokafka ~100 ERROR lines a second while Kafka is down). The
first line of a (logger, message template) shows, repeats within ``REPEAT_WINDOW_SECONDS``
are counted instead, and the first repeat after the window shows with that count: one
line when something breaks, then a reminder a window while it lasts.
"""

from __future__ import annotations

import logging
import logging.config
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
CONTEXT_FIELDS = ("article_id", "stage", "topic", "partition", "offset", "suppressed")
# Lines naming one record (a dead letter, ...) are never repeats of one another.
RECORD_FIELDS = ("article_id", "offset")
REPEAT_WINDOW_SECONDS = 60.0
# Libraries that log every reconnect or request at INFO: an operator wants their
# warnings, not their chatter.
QUIET_LIBRARIES = ("kafka", "aiokafka", "elastic_transport", "httpx", "trafilatura", "urllib3")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


@dataclass(slots=True)
class _Window:
    started: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Collapses repeats of one (logger, message template) within ``window`` seconds.

    The template is the message before its arguments are filled in, so "Unable connect
    to node with id %s" is one line whatever the node. A line that passes after repeats
    were held back says how many (``suppressed``). When the repeats stop, the count of
    the last window is not reported: the line that follows a recovery tells the story.
    """

    def __init__(
        self, window: float = REPEAT_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()  # Faust's consumer logs from a thread of its own

    def filter(self, record: logging.LogRecord) -> bool:
        if any(getattr(record, name, None) is not None for name in RECORD_FIELDS):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.started < self.window:
                window.suppressed += 1
                return False
            self._windows[key] = _Window(now)
            if len(self._windows) > MAX_TEMPLATES:
                self._forget(now, keep=key)
        if window is not None and window.suppressed:
            record.msg = (
                f"{record.msg} [{window.suppressed} similar messages suppressed in the "
                f"last {now - window.started:.0f} s]"
            )
            record.suppressed = window.suppressed
        return True

    def _forget(self, now: float, *, keep: tuple[str, str]) -> None:
        """Bound the memory: drop the windows that are over; if most are not, all but
        ``keep`` (a few repeats show again, which is better than growing without end)."""
        self._windows = {k: w for k, w in self._windows.items() if now - w.started < self.window}
        if len(self._windows) > MAX_TEMPLATES // 2:
            self._windows = {keep: self._windows[keep]}


# How many templates a filter remembers before it forgets those whose window is over.
MAX_TEMPLATES = 1024


def logging_config(
    *, level: str, log_format: str, repeat_window: float | None = None
) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for stderr at ``level`` in ``log_format``;
    ``repeat_window``: collapse repeated lines (RepeatFilter) within that many seconds."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler: dict[str, Any] = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": handler},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": "WARNING"} for name in QUIET_LIBRARIES},
    }
    if repeat_window:
        # On the handler: a logger's own filters do not see its children's records.
        config["filters"] = {"repeats": {"()": RepeatFilter, "window": repeat_window}}
        handler["filters"] = ["repeats"]
    return config


def setup_logging(*, level: str, log_format: str) -> None:
    logging.config.dictConfig(logging_config(level=level, log_format=log_format))

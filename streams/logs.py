"""Log lines for people (``text``) or for log pipelines (``json``): NEWSSTREAM_LOG_FORMAT.

One configuration for the CLI and the Faust worker (which would otherwise install its
own). A JSON line carries time, level, logger and message, and, where the code logged
them as ``extra``, the article id, stage, topic, partition and offset, so a log pipeline
can find every line about one record.
"""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

import orjson

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
CONTEXT_FIELDS = ("article_id", "stage", "topic", "partition", "offset")
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


def logging_config(*, level: str, log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for stderr at ``level`` in ``log_format``."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": "WARNING"} for name in QUIET_LIBRARIES},
    }


def setup_logging(*, level: str, log_format: str) -> None:
    logging.config.dictConfig(logging_config(level=level, log_format=log_format))

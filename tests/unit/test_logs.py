"""JSON log lines carry the record's context; text lines stay readable."""

from __future__ import annotations

import logging

import orjson

from streams.logs import JsonFormatter, logging_config


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("streams.worker", logging.WARNING, __file__, 1, "dead %s", ("x",), None)
    rec.__dict__.update(extra)
    return rec


def test_a_json_line_has_time_level_logger_message_and_the_record_s_origin() -> None:
    line = JsonFormatter().format(
        record(stage="parse", topic="articles.raw", partition=2, offset=7)
    )
    entry = orjson.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "streams.worker"
    assert entry["message"] == "dead x" and entry["time"].endswith("+00:00")
    assert (entry["stage"], entry["topic"], entry["partition"], entry["offset"]) == (
        "parse",
        "articles.raw",
        2,
        7,
    )
    assert "article_id" not in entry  # only what the line is about


def test_an_exception_is_one_field_of_the_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        rec = record()
        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line and "boom" in orjson.loads(line)["exception"]


def test_chatty_libraries_log_warnings_only() -> None:
    config = logging_config(level="debug", log_format="json")
    assert config["root"]["level"] == "DEBUG"
    assert config["loggers"]["kafka"] == {"level": "WARNING"}
    assert config["formatters"]["default"] == {"()": JsonFormatter}

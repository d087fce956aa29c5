"""JSON log lines carry the record's context; text lines stay readable; a flood of one
line collapses into that line and a reminder."""

from __future__ import annotations

import logging

import orjson

from streams.logs import JsonFormatter, RepeatFilter, logging_config


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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def line(msg: str, *args: object, name: str = "aiokafka", **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def shown(repeats: RepeatFilter, *records: logging.LogRecord) -> list[str]:
    return [r.getMessage() for r in records if repeats.filter(r)]


def test_a_flood_of_one_template_is_one_line_and_a_reminder_a_window() -> None:
    clock = Clock()
    repeats = RepeatFilter(window=60.0, clock=clock)
    template = "Unable connect to node with id %s: %s"
    first = shown(repeats, *(line(template, n % 3, "refused") for n in range(100)))
    assert first == ["Unable connect to node with id 0: refused"]
    clock.now += 30
    assert shown(repeats, line(template, 1, "refused")) == []  # still within the window
    clock.now += 31
    reminder = line(template, 2, "refused")
    assert shown(repeats, reminder) == [
        "Unable connect to node with id 2: refused "
        "[100 similar messages suppressed in the last 61 s]"
    ]
    assert reminder.suppressed == 100  # type: ignore[attr-defined]
    assert orjson.loads(JsonFormatter().format(reminder))["suppressed"] == 100
    clock.now += 61
    assert shown(repeats, line(template, 0, "refused")) == [
        "Unable connect to node with id 0: refused"  # nothing held back in that window
    ]


def test_other_templates_and_loggers_are_not_repeats() -> None:
    repeats = RepeatFilter(window=60.0, clock=Clock())
    assert shown(
        repeats,
        line("Unable to update metadata from %s", 1),
        line("Unable to update metadata from %s", 1, name="faust"),
        line("Failed fetch messages from %s", 1),
        line("Unable to update metadata from %s", 2),
    ) == [
        "Unable to update metadata from 1",
        "Unable to update metadata from 1",
        "Failed fetch messages from 1",
    ]


def test_lines_about_one_record_each_are_shown() -> None:
    repeats = RepeatFilter(window=60.0, clock=Clock())
    template = "dead-lettered %s[%d]@%d"
    letters = [line(template, "in", 0, n, name="streams.worker.dlq", offset=n) for n in range(3)]
    assert len(shown(repeats, *letters)) == 3


def test_the_filter_forgets_templates_instead_of_growing_without_end() -> None:
    clock = Clock()
    repeats = RepeatFilter(window=60.0, clock=clock)
    for n in range(5000):
        repeats.filter(line(f"redirected output line {n}"))
    assert len(repeats._windows) <= 1024
    clock.now += 61
    assert shown(repeats, line("redirected output line 4999")) == ["redirected output line 4999"]


def test_the_worker_config_filters_repeats_on_the_handler_in_both_formats() -> None:
    for log_format in ("text", "json"):
        config = logging_config(level="info", log_format=log_format, repeat_window=60.0)
        assert config["filters"]["repeats"] == {"()": RepeatFilter, "window": 60.0}
        assert config["handlers"]["stderr"]["filters"] == ["repeats"]
    assert "filters" not in logging_config(level="info", log_format="text")["handlers"]["stderr"]

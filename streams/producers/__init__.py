"""Producers: put raw articles on ``articles.raw`` as they come, valid or not, so the
worker is the one place that judges a record (and dead-letters it with the reason).

``jsonl``: JSON Lines files (``newsstream produce``). ``feeds``: RSS and Atom feeds
(``newsstream poll``), a package of its own (feeds file, HTTP, items, state, run); a
feed entry without usable text is counted and logged there rather than published.
``api``: HTTP push (``newsstream api``), which answers its sender instead: a request
with an invalid article is refused whole (422, nothing published), and accepted (202)
once Kafka has every record.
"""

from streams.producers.api import create_api, run_api
from streams.producers.feeds import (
    USER_AGENT,
    FeedConfig,
    FeedReport,
    FeedsHolder,
    FeedState,
    HostThrottle,
    Poller,
    PollSchedule,
    check_feeds_file,
    decode_state,
    encode_state,
    entry_to_article,
    fetch,
    format_report,
    format_summary,
    html_to_text,
    load_feeds,
    make_http_client,
    normalise_date,
    open_poller,
    parse_feed,
    parse_feeds,
    poll_once,
    read_states,
    run_poller,
    run_service,
    stop_on_signals,
)
from streams.producers.jsonl import make_producer, produce, read_lines, to_record

__all__ = [
    "USER_AGENT",
    "FeedConfig",
    "FeedReport",
    "FeedState",
    "FeedsHolder",
    "HostThrottle",
    "PollSchedule",
    "Poller",
    "check_feeds_file",
    "create_api",
    "decode_state",
    "encode_state",
    "entry_to_article",
    "fetch",
    "format_report",
    "format_summary",
    "html_to_text",
    "load_feeds",
    "make_http_client",
    "make_producer",
    "normalise_date",
    "open_poller",
    "parse_feed",
    "parse_feeds",
    "poll_once",
    "produce",
    "read_lines",
    "read_states",
    "run_api",
    "run_poller",
    "run_service",
    "stop_on_signals",
    "to_record",
]

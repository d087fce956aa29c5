"""RSS and Atom feeds onto ``articles.raw`` (``newsstream poll``).

``poller``: one poll of one feed (conditional GET, new items, publish, then remember);
``config``: the feeds file; ``fetching``: HTTP with limits and politeness; ``robots``:
robots.txt per host; ``items``: feed entries as raw articles (no I/O); ``state``: what the
poller remembers (validators, seen ids, backoff), in a compacted topic; ``run``: the
schedule and the concurrent loop; ``telemetry`` and ``web``: its metrics and probes.
"""

from streams.producers.feeds.config import (
    FeedConfig,
    FeedsHolder,
    check_feeds_file,
    load_feeds,
    parse_feeds,
)
from streams.producers.feeds.fetching import USER_AGENT, HostThrottle, fetch, make_http_client
from streams.producers.feeds.items import entry_to_article, html_to_text, normalise_date, parse_feed
from streams.producers.feeds.poller import (
    FeedReport,
    Poller,
    format_report,
    format_summary,
    open_poller,
    poll_once,
)
from streams.producers.feeds.robots import RobotsCache, RobotsRules, rules_from_answer
from streams.producers.feeds.run import (
    PollSchedule,
    plan,
    poll_feed,
    run_poller,
    run_service,
    stop_on_signals,
)
from streams.producers.feeds.state import FeedState, decode_state, encode_state, read_states
from streams.producers.feeds.telemetry import PollHealth, PollMetrics, PollTelemetry

__all__ = [
    "USER_AGENT",
    "FeedConfig",
    "FeedReport",
    "FeedState",
    "FeedsHolder",
    "HostThrottle",
    "PollHealth",
    "PollMetrics",
    "PollSchedule",
    "PollTelemetry",
    "Poller",
    "RobotsCache",
    "RobotsRules",
    "check_feeds_file",
    "decode_state",
    "encode_state",
    "entry_to_article",
    "fetch",
    "format_report",
    "format_summary",
    "html_to_text",
    "load_feeds",
    "make_http_client",
    "normalise_date",
    "open_poller",
    "parse_feed",
    "parse_feeds",
    "plan",
    "poll_feed",
    "poll_once",
    "read_states",
    "rules_from_answer",
    "run_poller",
    "run_service",
    "stop_on_signals",
]

"""RSS and Atom feeds onto ``articles.raw`` (``newsstream poll``).

``poller``: one poll of one feed (conditional GET, new items, publish, then remember);
``config``: the feeds file; ``fetching``: HTTP with limits and politeness; ``items``: feed
entries as raw articles (no I/O); ``state``: what the poller remembers, in a compacted
topic; ``run``: the schedule and the loop.
"""

from streams.producers.feeds.config import FeedConfig, FeedsHolder, load_feeds, parse_feeds
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
from streams.producers.feeds.run import PollSchedule, run_poller, stop_on_signals
from streams.producers.feeds.state import FeedState, decode_state, encode_state, read_states

__all__ = [
    "USER_AGENT",
    "FeedConfig",
    "FeedReport",
    "FeedState",
    "FeedsHolder",
    "HostThrottle",
    "PollSchedule",
    "Poller",
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
    "poll_once",
    "read_states",
    "run_poller",
    "stop_on_signals",
]

"""Tools for the demo, the tests and the benchmarks, kept apart so the worker never imports
them: the webhook receiver behind ``newsstream receiver`` (with failure knobs for tests),
``localrun`` to start newsstream processes, a loopback feed server over the committed
feed fixtures (``feedserver``), and ``demo`` (``make demo``)."""

from streams.devtools import localrun
from streams.devtools.feedserver import FeedServer, fixture_article_ids, start_fixture_feeds
from streams.devtools.receiver import Received, WebhookReceiver, serve

__all__ = [
    "FeedServer",
    "Received",
    "WebhookReceiver",
    "fixture_article_ids",
    "localrun",
    "serve",
    "start_fixture_feeds",
]

"""Tools for the demo, the tests and the benchmarks, kept apart so the worker never imports
them: the webhook receiver behind ``newsstream receiver`` (with failure knobs for tests),
``localrun`` to start newsstream processes, and ``demo`` (``make demo``)."""

from streams.devtools import localrun
from streams.devtools.receiver import Received, WebhookReceiver, serve

__all__ = ["Received", "WebhookReceiver", "localrun", "serve"]

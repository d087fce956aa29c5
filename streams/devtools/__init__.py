"""Tools for the demo, the tests and the benchmarks; the worker never imports them.

``receiver`` is the small webhook receiver behind ``newsstream receiver`` (with failure
knobs for tests), ``localrun`` starts newsstream processes in the background, and
``demo`` is ``make demo``.
"""

from streams.devtools.receiver import Received, WebhookReceiver, serve

__all__ = ["Received", "WebhookReceiver", "serve"]

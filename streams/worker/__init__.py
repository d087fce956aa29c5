"""The worker: a Faust app whose four stages share one runner.

``create_app`` wires it (app.py); ``Runner`` and ``Stage`` (runner.py) are the contract
each stage meets; ``DeadLetters`` and ``DlqLimit`` (dlq.py) say what happens to the
records that fail.
"""

from streams.worker.app import create_app
from streams.worker.dlq import (
    MAX_ORIGINAL_BYTES,
    DeadLetters,
    DlqLimit,
    DlqLimitExceeded,
    Origin,
    dead_letter,
)
from streams.worker.produce import Output, Producer, publish
from streams.worker.runner import Runner, Stage

__all__ = [
    "MAX_ORIGINAL_BYTES",
    "DeadLetters",
    "DlqLimit",
    "DlqLimitExceeded",
    "Origin",
    "Output",
    "Producer",
    "Runner",
    "Stage",
    "create_app",
    "dead_letter",
    "publish",
]

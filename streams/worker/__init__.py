"""The worker: one Faust app whose four stages share one ``Runner``, so every record is
decoded once, retried only when the failure is transient, and otherwise dead-lettered
with its origin (``DeadLetters``), until ``DlqLimit`` says too much is failing."""

from streams.worker.app import create_app
from streams.worker.deliver_alerts import DeliverAlertsStage, send_due_digests
from streams.worker.dlq import DeadLetters, DlqLimit, DlqLimitExceeded, Origin
from streams.worker.enrich import EnrichStage
from streams.worker.index import IndexStage
from streams.worker.match_alerts import MatchAlertsStage
from streams.worker.produce import Output, Producer, publish
from streams.worker.runner import Runner, Stage

__all__ = [
    "DeadLetters",
    "DeliverAlertsStage",
    "DlqLimit",
    "DlqLimitExceeded",
    "EnrichStage",
    "IndexStage",
    "MatchAlertsStage",
    "Origin",
    "Output",
    "Producer",
    "Runner",
    "Stage",
    "create_app",
    "publish",
    "send_due_digests",
]

"""Stage deliver-alerts: ``alerts`` → webhooks, each outcome recorded in ``news-alerts``.

Alerts are delivered one after another. An alert whose retry budget ran out, or that a
worker stopped delivering midway (it may have arrived: at most one delivery), comes
back from the dispatcher as a DeliveryError and is dead-lettered to ``alerts.dlq``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from streams.errors import DeliveryError, NewsstreamError
from streams.messages import Alert, alert_from_json, dumps
from streams.worker.dlq import DeadLetters, Origin


class Dispatcher(Protocol):
    async def dispatch(self, alert: Alert) -> DeliveryError | None: ...

    async def flush_due_digests(self) -> list[tuple[DeliveryError, list[Alert]]]: ...


@dataclass(frozen=True)
class DeliverAlertsStage:
    dispatcher: Dispatcher
    name: str = "deliver-alerts"
    decode_stage: str = "deliver-alerts"

    def article_id(self, value: Alert) -> str | None:
        return value.article_id

    def decode(self, record: Origin) -> Alert:
        return alert_from_json(record.value or b"")

    async def handle(self, values: Sequence[Alert]) -> list[Exception | None]:
        return [await self._deliver(alert) for alert in values]

    async def _deliver(self, alert: Alert) -> Exception | None:
        try:
            return await self.dispatcher.dispatch(alert)
        except NewsstreamError as exc:  # Elasticsearch busy (retry) or the record refused (DLQ)
            return exc


async def send_due_digests(
    dispatcher: Dispatcher, dead_letters: DeadLetters, *, alerts_topic: str, dlq_topic: str
) -> None:
    """Send the digests whose window closed; dead-letter those that could not be sent."""
    for failure, alerts in await dispatcher.flush_due_digests():
        # A digest gathers alerts from many offsets: the letter carries them all.
        origin = Origin(alerts_topic, -1, -1, None, dumps(alerts))
        await dead_letters.send(dlq_topic, origin, failure, stage="deliver-alerts")

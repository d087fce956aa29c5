"""Alert records in the ``news-alerts`` index: the dedup key and the delivery log.

The record is created with ``op_type=create`` under the alert id (rule + story), so
however often an alert is replayed — restarts, rebalances, syndicated copies of one
story — only the first creation wins and the receiver gets one delivery.
"""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, ConflictError, TransportError

from streams.models import Alert
from streams.sink.client import as_sink_error


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    THROTTLED = "throttled"
    DIGEST_PENDING = "digest_pending"


def alert_record(alert: Alert, *, now: str) -> dict[str, Any]:
    record = asdict(alert)
    record.update(
        status=AlertStatus.PENDING.value,
        attempts=0,
        last_error=None,
        updated_at=now,
        delivered_at=None,
    )
    return record


async def claim(es: AsyncElasticsearch, index: str, alert: Alert, *, now: str) -> bool:
    """Create the pending record; False when this alert was already delivered or given up on.

    A record still ``pending`` belongs to a worker that died mid-delivery: it is claimed
    again, and receivers can drop the rare repeat by the X-Newsstream-Alert-Id header.
    """
    try:
        await es.create(
            index=index, id=alert.alert_id, document=alert_record(alert, now=now), refresh=False
        )
        return True
    except ConflictError:
        pass
    except (ApiError, TransportError) as exc:
        raise as_sink_error(exc, f"recording alert {alert.alert_id}") from exc
    try:
        existing = await es.get(index=index, id=alert.alert_id)
    except (ApiError, TransportError) as exc:
        raise as_sink_error(exc, f"reading alert {alert.alert_id}") from exc
    return bool(existing["_source"].get("status") == AlertStatus.PENDING.value)


async def mark(
    es: AsyncElasticsearch,
    index: str,
    alert_id: str,
    *,
    status: AlertStatus,
    attempts: int,
    last_error: str | None,
    now: str,
) -> None:
    changes: dict[str, Any] = {
        "status": status.value,
        "attempts": attempts,
        "last_error": last_error,
        "updated_at": now,
    }
    if status is AlertStatus.SENT:
        changes["delivered_at"] = now
    try:
        await es.update(index=index, id=alert_id, doc=changes, refresh=False, retry_on_conflict=3)
    except (ApiError, TransportError) as exc:
        raise as_sink_error(exc, f"updating alert {alert_id}") from exc

"""Alert records in the ``news-alerts`` index: the dedup key and the delivery log.

The record is created with ``op_type=create`` under the alert id (rule + story), so
however often an alert is replayed — restarts, rebalances, syndicated copies of one
story — only the first creation wins. Before its first request the record is marked
``delivering``; a replay that finds it so knows a worker died while sending and cannot
know whether the receiver got it, so it does not send again (at most one delivery): the
alert becomes ``unconfirmed`` and goes to ``alerts.dlq`` for a person to check.
"""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, ConflictError, TransportError

from streams.elastic.client import as_sink_error
from streams.messages import Alert


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    THROTTLED = "throttled"
    DIGEST_PENDING = "digest_pending"
    DELIVERING = "delivering"
    UNCONFIRMED = "unconfirmed"


class Claim(StrEnum):
    NEW = "new"  # first time seen: deliver
    RESUME = "resume"  # recorded, never sent (a worker died before sending): deliver
    UNCONFIRMED = "unconfirmed"  # a worker died while sending: do not send again
    DONE = "done"  # sent, failed, throttled or waiting for a digest: nothing to do


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


async def claim(es: AsyncElasticsearch, index: str, alert: Alert, *, now: str) -> Claim:
    """Create the pending record, or say what an earlier attempt left behind."""
    try:
        await es.create(
            index=index, id=alert.alert_id, document=alert_record(alert, now=now), refresh=False
        )
        return Claim.NEW
    except ConflictError:
        pass
    except (ApiError, TransportError) as exc:
        raise as_sink_error(exc, f"recording alert {alert.alert_id}") from exc
    try:
        existing = await es.get(index=index, id=alert.alert_id)
    except (ApiError, TransportError) as exc:
        raise as_sink_error(exc, f"reading alert {alert.alert_id}") from exc
    status = existing["_source"].get("status")
    if status == AlertStatus.PENDING.value:
        return Claim.RESUME
    if status == AlertStatus.DELIVERING.value:
        return Claim.UNCONFIRMED
    return Claim.DONE


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

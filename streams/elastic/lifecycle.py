"""Index lifecycle: rollover of the articles alias and retention of all three indices.

Two modes, chosen by what the cluster offers:

- With ILM (a full distribution), ``newsstream setup`` installs a policy that rolls the
  articles write index over and deletes rolled-over indices after the retention; the
  articles template names the policy, so every index the alias gets is managed by it.
- Without ILM (the local integ-test node has none), ``newsstream indices rollover``, run
  on a schedule, does the same with the core ``_rollover`` API and index deletes.

Alerts and fingerprints are single indices whose documents are updated in place, so no
policy can expire them: in both modes the scheduled command deletes their old documents.

The decisions (what to roll over on, which indices are past retention, the cut-off of a
document) are pure functions of data and ``now``; the functions that call Elasticsearch
come last and only carry those decisions out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch import ConnectionError as EsConnectionError

from streams.errors import SinkError
from streams.settings import Settings

# Documents deleted per bulk request by the retention of alerts and fingerprints.
DELETE_BATCH = 2000
# The timestamp each single index's retention is measured on (see its template).
ALERTS_TIME_FIELD = "created_at"
FINGERPRINTS_TIME_FIELD = "seen_at"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Rollover conditions and retentions; "" or 0 leaves a condition out, 0 days keeps all."""

    max_age: str = "7d"
    max_primary_shard_size: str = "25gb"
    max_docs: int = 0
    articles_retention_days: int = 90
    alerts_retention_days: int = 365
    fingerprints_retention_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> Lifecycle:
        return cls(
            max_age=settings.articles_rollover_max_age,
            max_primary_shard_size=settings.articles_rollover_max_primary_shard_size,
            max_docs=settings.articles_rollover_max_docs,
            articles_retention_days=settings.articles_retention_days,
            alerts_retention_days=settings.alerts_retention_days,
            fingerprints_retention_days=settings.fingerprints_retention_days,
        )


@dataclass(frozen=True, slots=True)
class AliasIndex:
    """One index behind the articles alias."""

    name: str
    created: datetime
    is_write_index: bool
    ilm_policy: str = ""


@dataclass(frozen=True, slots=True)
class Expired:
    """An index past retention: it stopped taking writes at ``rolled_over_at``."""

    name: str
    rolled_over_at: datetime


# ---- decisions (pure) ---------------------------------------------------------------------


def policy_name(alias: str) -> str:
    return f"{alias}-lifecycle"


def rollover_conditions(lifecycle: Lifecycle) -> dict[str, Any]:
    """Conditions for ``_rollover`` and the ILM rollover action; the first met rolls over.

    ``min_docs: 1`` keeps an empty write index (a quiet week) from rolling over into yet
    another empty one; ILM does the same implicitly, here it is said for both.
    """
    conditions: dict[str, Any] = {"min_docs": 1}
    if lifecycle.max_age:
        conditions["max_age"] = lifecycle.max_age
    if lifecycle.max_primary_shard_size:
        conditions["max_primary_shard_size"] = lifecycle.max_primary_shard_size
    if lifecycle.max_docs:
        conditions["max_docs"] = lifecycle.max_docs
    return conditions


def ilm_policy(lifecycle: Lifecycle) -> dict[str, Any]:
    """The ILM policy: hot rollover, then delete ``articles_retention_days`` after it.

    ILM counts a delete phase's ``min_age`` from the rollover, so an index is deleted that
    long after it stopped taking writes, not after its first article.
    """
    phases: dict[str, Any] = {
        "hot": {"min_age": "0ms", "actions": {"rollover": rollover_conditions(lifecycle)}}
    }
    if lifecycle.articles_retention_days:
        phases["delete"] = {
            "min_age": f"{lifecycle.articles_retention_days}d",
            "actions": {"delete": {}},
        }
    return {"phases": phases, "_meta": {"managed_by": "newsstream setup"}}


def alias_indices(response: Mapping[str, Any], alias: str) -> list[AliasIndex]:
    """The indices behind ``alias``, oldest first, from ``GET <alias>`` (aliases, settings)."""
    indices = []
    for name, body in response.items():
        settings = body.get("settings", {}).get("index", {})
        flags = body.get("aliases", {}).get(alias, {})
        indices.append(
            AliasIndex(
                name=name,
                created=datetime.fromtimestamp(int(settings["creation_date"]) / 1000, UTC),
                is_write_index=bool(flags.get("is_write_index", len(response) == 1)),
                ilm_policy=str(settings.get("lifecycle", {}).get("name", "")),
            )
        )
    return sorted(indices, key=lambda index: (index.created, index.name))


def expired_indices(
    indices: Sequence[AliasIndex], *, now: datetime, retention_days: int
) -> list[Expired]:
    """Indices whose rollover lies more than ``retention_days`` before ``now``.

    An index's rollover is when its successor (the next one created) was: from then on it
    took no writes, which is also where ILM starts counting. The write index and the
    newest index are never expired, whatever the dates say: searches and writes need them.
    """
    if retention_days <= 0:
        return []
    ordered = sorted(indices, key=lambda index: (index.created, index.name))
    limit = timedelta(days=retention_days)
    expired = []
    for index, successor in pairwise(ordered):
        if not index.is_write_index and now - successor.created >= limit:
            expired.append(Expired(index.name, successor.created))
    return expired


def retention_cutoff(now: datetime, retention_days: int) -> datetime | None:
    """Documents older than this go; None: kept forever."""
    return now - timedelta(days=retention_days) if retention_days > 0 else None


def older_than(field: str, cutoff: datetime) -> dict[str, Any]:
    """The query for documents whose ``field`` is before ``cutoff``."""
    return {"range": {field: {"lt": iso(cutoff)}}}


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def describe_rollover(alias: str, response: Mapping[str, Any]) -> str:
    """One line for a ``_rollover`` answer: what happened and which conditions were met."""
    # Keys look like "[max_docs: 1]"; every min_ condition and one max_ one must hold.
    conditions: Mapping[str, bool] = response.get("conditions", {})
    met = [name.strip("[]") for name, hit in conditions.items() if hit and "[max_" in name]
    minimums = all(hit for name, hit in conditions.items() if "[min_" in name)
    old, new = response.get("old_index"), response.get("new_index")
    if response.get("rolled_over"):
        return f"{alias}: rolled over {old} -> {new} ({', '.join(met)})"
    if response.get("dry_run") and met and minimums:
        return f"{alias}: would roll over {old} -> {new} ({', '.join(met)})"
    return f"{alias}: write index {old} kept (no rollover condition met)"


def describe_mode(policy: str | None, lifecycle: Lifecycle, *, ilm_running: bool = True) -> str:
    """What ``setup`` tells the operator about who runs the lifecycle."""
    if policy is None:
        return (
            "lifecycle: no ILM on this cluster: run `newsstream indices rollover` on a "
            "schedule (articles rollover and retention, alerts and fingerprints retention)"
        )
    conditions = ", ".join(
        f"{name} {value}"
        for name, value in rollover_conditions(lifecycle).items()
        if name != "min_docs"
    )
    kept = (
        f"deleted {lifecycle.articles_retention_days} days after rollover"
        if lifecycle.articles_retention_days
        else "kept forever"
    )
    line = (
        f"lifecycle: ILM policy {policy} installed (articles roll over at {conditions}; "
        f"{kept}); run `newsstream indices rollover` on a schedule for alerts and "
        "fingerprints retention"
    )
    if not ilm_running:
        line += "; ILM is STOPPED on this cluster: nothing rolls over until POST _ilm/start"
    return line


# ---- Elasticsearch ------------------------------------------------------------------------


def ilm_operation_mode(es: Elasticsearch) -> str | None:
    """RUNNING, STOPPING or STOPPED; None when the cluster has no ILM at all.

    Asking ILM itself tells more than the module list: it also says whether ILM runs.
    """
    try:
        return str(es.ilm.get_status()["operation_mode"])
    except ApiError as exc:
        # No handler: a node without the ILM module; 410: serverless, which has no ILM.
        if "no handler found" in str(exc).lower() or exc.meta.status == 410:
            return None
        raise SinkError(
            f"cannot read the ILM status ({exc}); `newsstream setup` needs the cluster "
            "privilege manage_ilm"
        ) from exc


def install_policy(es: Elasticsearch, *, alias: str, lifecycle: Lifecycle) -> str:
    name = policy_name(alias)
    es.ilm.put_lifecycle(name=name, policy=ilm_policy(lifecycle))
    return name


def read_alias(es: Elasticsearch, alias: str) -> list[AliasIndex]:
    try:
        response = es.indices.get(index=alias, features=["aliases", "settings"])
    except NotFoundError as exc:
        raise SinkError(f"alias {alias!r} not found: run `newsstream setup` first") from exc
    return alias_indices(response.body, alias)


def run_lifecycle(
    es: Elasticsearch,
    *,
    articles_alias: str,
    alerts_index: str,
    fingerprints_index: str,
    lifecycle: Lifecycle,
    now: datetime,
    dry_run: bool = False,
) -> list[str]:
    """Roll the articles alias over and apply every retention; one line per action."""
    try:
        lines = articles_lifecycle(
            es, alias=articles_alias, lifecycle=lifecycle, now=now, dry_run=dry_run
        )
        for index, field, days in (
            (alerts_index, ALERTS_TIME_FIELD, lifecycle.alerts_retention_days),
            (fingerprints_index, FINGERPRINTS_TIME_FIELD, lifecycle.fingerprints_retention_days),
        ):
            lines.append(
                expire_documents(
                    es, index=index, field=field, retention_days=days, now=now, dry_run=dry_run
                )
            )
    except EsConnectionError as exc:
        raise SinkError(f"cannot reach Elasticsearch ({exc}); check NEWSSTREAM_ES_URL") from exc
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            raise SinkError(
                f"Elasticsearch refused a lifecycle step ({exc}); the user needs manage on "
                f"{articles_alias}* and read and delete on {alerts_index} and "
                f"{fingerprints_index}"
            ) from exc
        raise SinkError(f"Elasticsearch refused a lifecycle step: {exc}") from exc
    return lines


def articles_lifecycle(
    es: Elasticsearch, *, alias: str, lifecycle: Lifecycle, now: datetime, dry_run: bool
) -> list[str]:
    indices = read_alias(es, alias)
    write = next((index for index in indices if index.is_write_index), None)
    if write is not None and write.ilm_policy:
        # ILM rolls over and deletes these: a rollover of ours would race it.
        return [f"{alias}: managed by ILM policy {write.ilm_policy} (rollover and retention)"]
    response = es.indices.rollover(
        alias=alias, conditions=rollover_conditions(lifecycle), dry_run=dry_run
    )
    lines = [describe_rollover(alias, response.body)]
    if response.get("rolled_over"):
        indices = read_alias(es, alias)  # the old write index now has a successor
    days = lifecycle.articles_retention_days
    if days <= 0:
        lines.append(f"{alias}: kept forever (NEWSSTREAM_ARTICLES_RETENTION_DAYS=0)")
        return lines
    expired = expired_indices(indices, now=now, retention_days=days)
    for index in expired:
        if not dry_run:
            es.indices.delete(index=index.name)
        verb = "would delete" if dry_run else "deleted"
        lines.append(
            f"{alias}: {verb} {index.name} (rolled over {iso(index.rolled_over_at)}, "
            f"retention {days} days)"
        )
    if not expired:
        lines.append(f"{alias}: no index rolled over more than {days} days ago")
    return lines


def expire_documents(
    es: Elasticsearch,
    *,
    index: str,
    field: str,
    retention_days: int,
    now: datetime,
    dry_run: bool,
) -> str:
    """Delete the documents of ``index`` whose ``field`` is older than the retention.

    Search and bulk delete, not ``_delete_by_query``: that lives in the reindex module,
    which minimal distributions (the local node) lack, and this needs only the read and
    delete privileges. No refresh first (that would need one more): a document not yet
    searchable is at most a second old in the index and waits for the next run.
    """
    cutoff = retention_cutoff(now, retention_days)
    if cutoff is None:
        return f"{index}: kept forever (retention 0 days)"
    query = older_than(field, cutoff)
    try:
        if dry_run:
            count = es.count(index=index, query=query)["count"]
            return f"{index}: would delete {count} documents with {field} before {iso(cutoff)}"
        hits = es.search(index=index, query=query, size=DELETE_BATCH, source=False)
    except NotFoundError as exc:
        raise SinkError(f"index {index!r} not found: run `newsstream setup` first") from exc
    deleted = 0
    while True:
        ids = [hit["_id"] for hit in hits["hits"]["hits"]]
        if not ids:
            break
        response = es.bulk(
            operations=[{"delete": {"_index": index, "_id": doc_id}} for doc_id in ids],
            refresh=True,  # the next search must not find them again
        )
        failed = [
            item["delete"]
            for item in response["items"]
            if item["delete"].get("status", 200) >= 300 and item["delete"].get("status") != 404
        ]
        if failed:
            raise SinkError(
                f"{index}: {len(failed)} of {len(ids)} deletes refused, e.g. "
                f"{failed[0].get('error')}; check the role's delete privilege on {index}"
            )
        removed = sum(1 for item in response["items"] if item["delete"].get("result") == "deleted")
        if not removed:
            break  # all gone already (another run was first): nothing left to make progress on
        deleted += removed
        hits = es.search(index=index, query=query, size=DELETE_BATCH, source=False)
    return f"{index}: deleted {deleted} documents with {field} before {iso(cutoff)}"

"""The Grafana dashboard in deploy/grafana/ queries only metrics the worker exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from streams.errors import SinkBackpressure
from streams.worker.telemetry import Health, LagCollector, Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "newsstream-dashboard.json"

# The samples each family type exposes (prometheus-client names families without the
# suffix: a Counter `x` is the family `x` with the sample `x_total`).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![\w:])newsstream_[A-Za-z0-9_:]*")


def _lags() -> Iterator[tuple[str, int, int]]:
    yield ("articles.raw", 0, 3)


def _metrics() -> Metrics:
    metrics = Metrics()
    metrics.registry.register(LagCollector(_lags))
    return metrics


def exposed_names(metrics: Metrics) -> set[str]:
    """Every sample name the registry can expose, labelled or not, used or not."""
    return {
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in _SUFFIXES[family.type]
    }


def metric_names(expr: str) -> set[str]:
    """The `newsstream_` metric names a PromQL expression reads (not label values)."""
    return set(_METRIC.findall(_STRING.sub('""', expr)))


def _load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' children included (a collapsed row holds its panels)."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queried(dashboard: dict[str, Any]) -> dict[str, set[str]]:
    """Where a metric name is read -> the names read there (panel targets, variables)."""
    found: dict[str, set[str]] = {}
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            where = f"panel {panel['title']!r} target {target.get('refId')}"
            found[where] = metric_names(target.get("expr", ""))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        found[f"variable {variable['name']!r}"] = metric_names(
            text + " " + variable.get("definition", "")
        )
    return found


def missing(dashboard: dict[str, Any], exposed: set[str]) -> dict[str, set[str]]:
    return {
        where: unknown
        for where, names in queried(dashboard).items()
        if (unknown := names - exposed)
    }


def test_every_queried_metric_is_exposed_by_the_worker() -> None:
    dashboard = _load()
    exposed = exposed_names(_metrics())
    assert missing(dashboard, exposed) == {}


def test_the_dashboard_shows_every_metric_the_worker_has() -> None:
    read = set().union(*queried(_load()).values())
    for family in _metrics().registry.collect():
        assert any(name.startswith(family.name) for name in read), family.name


def test_a_made_up_metric_is_caught() -> None:
    dashboard = _load()
    first = next(p for p in panels(dashboard) if p.get("targets"))
    first["targets"].append(
        {"refId": "Z", "expr": 'sum(rate(newsstream_made_up_total{job=~"$job"}[5m]))'}
    )
    # A real family with a suffix its type does not have is caught as well.
    first["targets"].append({"refId": "Y", "expr": "newsstream_dlq_limit_exceeded_total"})
    assert missing(dashboard, exposed_names(_metrics())) == {
        f"panel {first['title']!r} target Z": {"newsstream_made_up_total"},
        f"panel {first['title']!r} target Y": {"newsstream_dlq_limit_exceeded_total"},
    }


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            "histogram_quantile(0.95, sum by (le, stage) "
            "(rate(newsstream_stage_duration_seconds_bucket[5m])))",
            {"newsstream_stage_duration_seconds_bucket"},
        ),
        (
            'sum by (topic) (newsstream_consumer_lag{job="newsstream_worker"})',
            {"newsstream_consumer_lag"},
        ),
        ("label_values(newsstream_build_info, job)", {"newsstream_build_info"}),
        ("sum(up)", set()),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_suffixes_match_what_the_registry_really_exposes() -> None:
    metrics = _metrics()
    stage = metrics.stage("enrich", Health(stuck_after=60))
    stage.consumed(2)
    stage.done()
    stage.dead_lettered("enrich", ValueError("bad"))
    stage.waiting(1, SinkBackpressure("busy"), 0.5)
    stage.handled(0.1)
    stage.limit_exceeded()
    metrics.bulk_size.observe(3)
    metrics.bulk_duration.observe(0.2)
    metrics.ingest_latency.observe(1.5)
    metrics.alerts.labels("sent").inc()
    metrics.build.info({"version": "0.0.0"})
    text = generate_latest(metrics.registry).decode()
    samples = {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert "newsstream_consumer_lag" in samples
    assert samples <= exposed_names(metrics)


def test_every_panel_has_a_title_targets_a_unit_and_a_description() -> None:
    dashboard = _load()
    assert dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        assert panel.get("title"), panel
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), panel["title"]
        assert all(t.get("expr") and t.get("refId") for t in panel["targets"]), panel["title"]
        assert panel.get("description"), panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_the_datasource_is_a_prometheus_variable() -> None:
    variables = {v["name"]: v for v in _load()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= variables.keys()

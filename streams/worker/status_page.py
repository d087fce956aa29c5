"""The status page at ``/``: what the worker did lately, for people without Grafana at hand.

Server-rendered HTML with inline SVG, no scripts and no build step. ``History`` keeps a
sample of the counters every ``SAMPLE_SECONDS`` (the last ``KEEP`` of them, 15 minutes);
``render`` is a pure function of that history, the health, the dead-letter counts and
the latest alert records, so it is tested without a worker.
"""

from __future__ import annotations

import html
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.alerts.payloads import discover_url
from streams.settings import KIBANA_ARTICLES_DATA_VIEW

SAMPLE_SECONDS = 10.0
KEEP = 90
STAGES = ("enrich", "index", "match-alerts", "deliver-alerts")


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    done: Mapping[str, float]  # stage -> records finished since start
    lag: float


@dataclass
class History:
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=KEEP))

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def rates(self, stage: str) -> list[float]:
        """Records a second between consecutive samples."""
        pairs = zip(self.samples, list(self.samples)[1:], strict=False)
        return [
            max(0.0, (b.done.get(stage, 0) - a.done.get(stage, 0)) / max(b.at - a.at, 1e-9))
            for a, b in pairs
        ]

    def lags(self) -> list[float]:
        return [s.lag for s in self.samples]


@dataclass(frozen=True, slots=True)
class PageData:
    history: History
    not_ready_because: Sequence[str]
    stuck_stages: Sequence[str]
    dead_letters: Mapping[tuple[str, str], float]  # (stage, reason) -> count since start
    alerts: Sequence[Mapping[str, Any]] | None  # None: the alert index did not answer
    kibana_url: str
    version: str
    # The data view the Discover links open (NEWSSTREAM_KIBANA_ARTICLES_DATA_VIEW).
    kibana_data_view: str = KIBANA_ARTICLES_DATA_VIEW


def render(data: PageData, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    ready = not data.not_ready_because
    state = "ready" if ready else "not ready: " + "; ".join(data.not_ready_because)
    throughput = "".join(_throughput_row(stage, data.history.rates(stage)) for stage in STAGES)
    lags = data.history.lags()
    return _PAGE.format(
        version=_e(data.version),
        state_class="ok" if ready else "bad",
        state=_e(state),
        stuck=_e(", ".join(data.stuck_stages) or "none"),
        minutes=KEEP * SAMPLE_SECONDS / 60,
        throughput=throughput,
        lag_now=f"{lags[-1]:,.0f}" if lags else "–",
        lag_chart=_sparkline(lags),
        dead_letters=_dead_letter_rows(data.dead_letters),
        alerts=_alert_rows(data.alerts, data.kibana_url, data.kibana_data_view),
        rendered=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
    )


def _throughput_row(stage: str, rates: Sequence[float]) -> str:
    latest = f"{rates[-1]:.1f}/s" if rates else "–"
    return f"<tr><td>{_e(stage)}</td><td class=num>{latest}</td><td>{_sparkline(rates)}</td></tr>"


def _sparkline(values: Sequence[float], width: int = 240, height: int = 36) -> str:
    if len(values) < 2:
        return '<span class="muted">collecting…</span>'
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="max {top:,.1f}">'
        f'<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{points}"/></svg>'
    )


def _dead_letter_rows(counts: Mapping[tuple[str, str], float]) -> str:
    if not counts:
        return '<tr><td colspan=3 class="muted">none since the worker started</td></tr>'
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return "".join(
        f"<tr><td>{_e(stage)}</td><td>{_e(reason)}</td><td class=num>{count:,.0f}</td></tr>"
        for (stage, reason), count in ordered
    )


def _alert_rows(
    alerts: Sequence[Mapping[str, Any]] | None, kibana_url: str, data_view_id: str
) -> str:
    if alerts is None:
        return '<tr><td colspan=4 class="bad">the alert index did not answer</td></tr>'
    if not alerts:
        return '<tr><td colspan=4 class="muted">no alerts yet</td></tr>'
    rows = []
    for alert in alerts:
        title = _e(str(alert.get("article_title") or alert.get("article_id") or ""))
        url = alert.get("article_url")
        article = f'<a href="{_e(url)}">{title}</a>' if url else title
        article_id = str(alert.get("article_id", ""))
        kibana = _e(discover_url(kibana_url, article_id, data_view_id=data_view_id))
        rows.append(
            f"<tr><td>{_e(str(alert.get('updated_at', '')))}</td>"
            f"<td>{_e(str(alert.get('rule_name') or alert.get('rule_id', '')))}</td>"
            f'<td>{article} <a class="kibana" href="{kibana}">Kibana</a></td>'
            f"<td>{_e(str(alert.get('status', '')))}</td></tr>"
        )
    return "".join(rows)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<title>newsstream worker</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1a202c; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.1em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .25em .8em; text-align: left;
  border-bottom: 1px solid #e2e8f0; vertical-align: middle; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
#alerts td:first-child {{ white-space: nowrap; }}
.ok {{ color: #276749; }} .bad {{ color: #c53030; }} .muted {{ color: #718096; }}
</style></head>
<body>
<h1>newsstream worker <span class="muted">{version}</span></h1>
<p id="state" class="{state_class}">{state}</p>
<p>Stuck stages: <span id="stuck">{stuck}</span></p>
<h2>Throughput, last {minutes:.0f} minutes</h2>
<table id="throughput"><tr><th>stage</th><th>now</th><th>records/s</th></tr>{throughput}</table>
<h2>Consumer lag</h2>
<p>Now: <span id="lag">{lag_now}</span> records {lag_chart}</p>
<h2>Dead letters by reason, since the worker started</h2>
<table id="dead-letters"><tr><th>stage</th><th>reason</th><th>records</th></tr>
{dead_letters}</table>
<h2>Recent alerts</h2>
<table id="alerts"><tr><th>updated</th><th>rule</th><th>article</th><th>status</th></tr>
{alerts}</table>
<p class="muted">Rendered {rendered}; refreshes every 10 s.
<a href="/metrics">metrics</a> · <a href="/healthz">healthz</a> · <a href="/readyz">readyz</a></p>
</body></html>
"""

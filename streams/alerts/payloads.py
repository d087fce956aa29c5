"""What a target receives: the request body and headers for one alert or a digest.

* ``webhook``: newsstream's JSON payload, an AlertPayload or a DigestPayload
  (streams.messages.models; schemas/webhook_payload.schema.json is generated from them):
  ``kind`` is ``alert`` for one alert, ``digest`` for a throttled window's summary.
* ``slack``: an incoming-webhook message (``text`` plus Block Kit blocks).
* ``teams``: a message with an Adaptive Card, as Teams workflow webhooks accept it.
* ``template``: a Jinja2 template in a sandbox renders the body; it sees ``payload`` (the
  JSON payload above), ``rule``, ``alerts`` (list), ``alert`` (the first) and ``kind``.

Every alert carries a link to the article and to a Kibana Discover search for it, on the
articles data view of deploy/kibana/ (NEWSSTREAM_KIBANA_ARTICLES_DATA_VIEW): without a data
view in the link, Discover would search whatever data view the user last had open.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote

import jinja2
import orjson
from jinja2.sandbox import ImmutableSandboxedEnvironment

from streams.alerts.targets import Target
from streams.errors import DeliveryError
from streams.messages import (
    Alert,
    AlertPayload,
    DigestPayload,
    DigestWindow,
    WebhookAlert,
    WebhookArticle,
    WebhookLinks,
    WebhookPayload,
    WebhookRule,
)
from streams.settings import KIBANA_ARTICLES_DATA_VIEW

SCHEMA_VERSION: Final = 1
_SLACK_MAX_ALERTS = 10
_SLACK_SECTION_LIMIT = 2900

_TEMPLATES = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


def discover_url(
    kibana_url: str,
    article_id: str,
    *,
    data_view_id: str | None = None,
    time_from: str = "now-1y",
) -> str:
    """A Kibana Discover link that shows one article (``id:"..."`` over ``time_from``..now)."""
    query = _rison_string(f'id:"{_kql_escape(article_id)}"')
    app_state = f"(query:(language:kuery,query:{query}))"
    if data_view_id:
        app_state = (
            f"(dataSource:(dataViewId:{_rison_string(data_view_id)},type:dataView),"
            f"query:(language:kuery,query:{query}))"
        )
    global_state = f"(time:(from:{_rison_string(time_from)},to:now))"
    safe = "(),:!'*-._~"
    return (
        f"{kibana_url.rstrip('/')}/app/discover#/"
        f"?_g={quote(global_state, safe=safe)}&_a={quote(app_state, safe=safe)}"
    )


def _kql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _rison_string(value: str) -> str:
    """A rison string: bare when it is a plain identifier-like word, quoted otherwise."""
    if value and all(c.isalnum() or c in "-_./~" for c in value) and not value[0].isdigit():
        return value
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def alert_entry(
    alert: Alert, *, kibana_url: str, data_view_id: str = KIBANA_ARTICLES_DATA_VIEW
) -> WebhookAlert:
    """One alert as it appears in every JSON payload."""
    return WebhookAlert(
        alert_id=alert.alert_id,
        created_at=alert.created_at,
        article=_article(alert),
        evidence=list(alert.evidence),
        links=_links(alert, kibana_url=kibana_url, data_view_id=data_view_id),
    )


def webhook_payload(
    alert: Alert, *, kibana_url: str, data_view_id: str = KIBANA_ARTICLES_DATA_VIEW
) -> AlertPayload:
    """The generic JSON payload for one alert."""
    return AlertPayload(
        schema_version=SCHEMA_VERSION,
        kind="alert",
        rule=WebhookRule(id=alert.rule_id, name=alert.rule_name),
        alert_id=alert.alert_id,
        created_at=alert.created_at,
        article=_article(alert),
        evidence=list(alert.evidence),
        links=_links(alert, kibana_url=kibana_url, data_view_id=data_view_id),
    )


def digest_payload(
    alerts: Sequence[Alert],
    *,
    kibana_url: str,
    window_start: str,
    window_end: str,
    data_view_id: str = KIBANA_ARTICLES_DATA_VIEW,
) -> DigestPayload:
    """The generic JSON payload summarising one rule's alerts of a throttle window."""
    if not alerts or len({alert.rule_id for alert in alerts}) != 1:
        raise ValueError("a digest needs at least one alert, all of one rule")
    return DigestPayload(
        schema_version=SCHEMA_VERSION,
        kind="digest",
        rule=WebhookRule(id=alerts[0].rule_id, name=alerts[0].rule_name),
        window=DigestWindow(start=window_start, end=window_end),
        count=len(alerts),
        alerts=[
            alert_entry(alert, kibana_url=kibana_url, data_view_id=data_view_id) for alert in alerts
        ],
    )


def _article(alert: Alert) -> WebhookArticle:
    return WebhookArticle(
        id=alert.article_id,
        title=alert.article_title,
        url=alert.article_url,
        source=alert.article_source,
        published_at=alert.article_published_at,
    )


def _links(alert: Alert, *, kibana_url: str, data_view_id: str) -> WebhookLinks:
    return WebhookLinks(
        article=alert.article_url,
        kibana=discover_url(kibana_url, alert.article_id, data_view_id=data_view_id),
    )


def slack_message(payload: WebhookPayload) -> dict[str, Any]:
    """A Slack incoming-webhook message for a webhook or digest payload."""
    rule = payload.rule.name
    entries = _entries(payload)
    header = rule if payload.kind == "alert" else f"{rule}: {len(entries)} matches"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}}
    ]
    for entry in entries[:_SLACK_MAX_ALERTS]:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_entry_text(entry)}}
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _slack_button(label, url)
                    for label, url in (
                        ("Open article", entry.links.article),
                        ("Open in Kibana", entry.links.kibana),
                    )
                    if url
                ],
            }
        )
    if len(entries) > _SLACK_MAX_ALERTS:
        more = f"and {len(entries) - _SLACK_MAX_ALERTS} more; see Kibana"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    first = entries[0].article.title
    text = f"[newsstream] {rule}: {first}" if payload.kind == "alert" else f"[newsstream] {header}"
    return {"text": _slack_escape(text), "blocks": blocks}


def _slack_entry_text(entry: WebhookAlert | AlertPayload) -> str:
    article = entry.article
    title = _slack_escape(article.title or article.id)
    heading = f"*<{article.url}|{title}>*" if article.url else f"*{title}*"
    meta = " · ".join(_slack_escape(str(v)) for v in (article.source, article.published_at) if v)
    lines = [heading] + ([meta] if meta else [])
    lines += [f"• {_slack_escape(item)}" for item in entry.evidence[:8]]
    return "\n".join(lines)[:_SLACK_SECTION_LIMIT]


def _slack_button(label: str, url: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_message(payload: WebhookPayload) -> dict[str, Any]:
    """A Teams message with an Adaptive Card (1.4), for workflow/incoming webhooks."""
    rule = payload.rule.name
    entries = _entries(payload)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "wrap": True,
            "text": rule if payload.kind == "alert" else f"{rule}: {len(entries)} matches",
        }
    ]
    for entry in entries[:_SLACK_MAX_ALERTS]:
        article = entry.article
        body.append(
            {"type": "TextBlock", "weight": "Bolder", "wrap": True, "separator": True,
             "text": article.title or article.id}
        )  # fmt: skip
        facts = [
            {"title": name, "value": str(value)}
            for name, value in (("Source", article.source), ("Published", article.published_at))
            if value
        ]
        if facts:
            body.append({"type": "FactSet", "facts": facts})
        body.extend(
            {"type": "TextBlock", "wrap": True, "isSubtle": True, "spacing": "None", "text": item}
            for item in entry.evidence[:8]
        )
        body.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": label, "url": url}
                    for label, url in (
                        ("Open article", entry.links.article),
                        ("Open in Kibana", entry.links.kibana),
                    )
                    if url
                ],
            }
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _entries(payload: WebhookPayload) -> Sequence[WebhookAlert | AlertPayload]:
    return payload.alerts if isinstance(payload, DigestPayload) else [payload]


@lru_cache(maxsize=256)
def compile_template(text: str) -> jinja2.Template:
    """Compile a template target's text in the sandbox (TemplateSyntaxError if invalid)."""
    return _TEMPLATES.from_string(text)


def render_template(text: str, payload: WebhookPayload) -> str:
    """Render a template target for a payload; jinja2 errors propagate.

    The template sees the payload as its JSON object, not the dataclasses.
    """
    data = dataclasses.asdict(payload)
    entries = data["alerts"] if payload.kind == "digest" else [data]
    return compile_template(text).render(
        payload=data,
        rule=data["rule"],
        kind=payload.kind,
        alerts=entries,
        alert=entries[0],
    )


def render_payload(
    target: Target, alert: Alert, *, kibana_url: str, data_view_id: str = KIBANA_ARTICLES_DATA_VIEW
) -> tuple[bytes, dict[str, str]]:
    """Body and headers for delivering one alert to ``target``."""
    payload = webhook_payload(alert, kibana_url=kibana_url, data_view_id=data_view_id)
    return render_body(target, payload)


def render_digest(
    target: Target,
    alerts: Sequence[Alert],
    *,
    kibana_url: str,
    window_start: str,
    window_end: str,
    data_view_id: str = KIBANA_ARTICLES_DATA_VIEW,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers for delivering one rule's digest to ``target``."""
    payload = digest_payload(
        alerts,
        kibana_url=kibana_url,
        window_start=window_start,
        window_end=window_end,
        data_view_id=data_view_id,
    )
    return render_body(target, payload)


def render_body(target: Target, payload: WebhookPayload) -> tuple[bytes, dict[str, str]]:
    """Shape a JSON payload for the target's type; DeliveryError if a template fails."""
    headers = {"Content-Type": "application/json", **dict(target.headers)}
    if target.type == "slack":
        return orjson.dumps(slack_message(payload)), headers
    if target.type == "teams":
        return orjson.dumps(teams_message(payload)), headers
    if target.type == "template":
        try:
            text = render_template(target.template or "", payload)
        except jinja2.TemplateError as exc:
            raise DeliveryError(
                f"target {target.name!r}: template failed: {exc}", retryable=False
            ) from exc
        return text.encode(), {**headers, "Content-Type": target.content_type}
    return orjson.dumps(payload), headers

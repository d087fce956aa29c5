"""Payloads for each target type: the documented JSON schema, Slack, Teams, templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from jsonschema import Draft202012Validator

from streams.alerts import Target, render_digest, render_payload
from streams.alerts.payloads import discover_url
from streams.errors import DeliveryError
from streams.messages import Alert
from streams.settings import KIBANA_ARTICLES_DATA_VIEW

ROOT = Path(__file__).resolve().parents[2]
KIBANA = "http://127.0.0.1:5601"

ALERT = Alert(
    alert_id="9f2c" * 8,
    rule_id="sanctions-watch",
    rule_name="Sanctions news",
    article_id="5d41402abc4b2a76b9719d911017c592",
    article_title="EU sanctions <Russian> defence firms & banks",
    article_url="https://news.example.com/eu-sanctions",
    evidence=["topic sanctions (score 0.82): Brussels sanctioned 12 companies"],
    created_at="2025-01-02T10:01:05Z",
    targets=["default"],
    article_source="reuters",
    article_published_at="2025-01-02T10:00:00Z",
)
SECOND = Alert(
    alert_id="7a1b" * 8,
    rule_id="sanctions-watch",
    rule_name="Sanctions news",
    article_id="0cc175b9c0f1b6a831c399e269772661",
    article_title="US adds firms to entity list",
    article_url=None,
    evidence=["topic sanctions (score 0.64)"],
    created_at="2025-01-02T10:07:00Z",
    targets=["default"],
)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads((ROOT / "schemas/webhook_payload.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def kibana_link(article_id: str, data_view_id: str = KIBANA_ARTICLES_DATA_VIEW) -> str:
    """The Discover link alerts carry: on the articles data view that deploy/kibana/ creates."""
    return discover_url(KIBANA, article_id, data_view_id=data_view_id)


def target(kind: str, **fields: Any) -> Target:
    return Target(name=kind, type=kind, url="https://receiver.example.com/hook", **fields)  # type: ignore[arg-type]


def test_webhook_payload_follows_the_schema(validator: Draft202012Validator) -> None:
    body, headers = render_payload(target("webhook"), ALERT, kibana_url=KIBANA)
    payload = orjson.loads(body)
    assert list(validator.iter_errors(payload)) == []
    assert headers == {"Content-Type": "application/json"}
    assert payload["kind"] == "alert"
    assert payload["rule"] == {"id": "sanctions-watch", "name": "Sanctions news"}
    assert payload["article"]["title"] == ALERT.article_title
    assert payload["links"]["article"] == ALERT.article_url
    assert payload["links"]["kibana"] == kibana_link(ALERT.article_id)
    assert payload["evidence"] == ALERT.evidence


def test_digest_payload_follows_the_schema(validator: Draft202012Validator) -> None:
    body, _ = render_digest(
        target("webhook"),
        [ALERT, SECOND],
        kibana_url=KIBANA,
        window_start="2025-01-02T10:00:00Z",
        window_end="2025-01-02T10:15:00Z",
    )
    payload = orjson.loads(body)
    assert list(validator.iter_errors(payload)) == []
    assert payload["count"] == 2
    assert [entry["alert_id"] for entry in payload["alerts"]] == [ALERT.alert_id, SECOND.alert_id]


def test_the_schema_rejects_an_undocumented_field(validator: Draft202012Validator) -> None:
    body, _ = render_payload(target("webhook"), ALERT, kibana_url=KIBANA)
    payload = orjson.loads(body)
    assert not validator.is_valid({**payload, "severity": "high"})
    assert not validator.is_valid({key: v for key, v in payload.items() if key != "links"})


def test_discover_url_searches_for_the_article_id_and_is_url_encoded() -> None:
    url = discover_url(KIBANA + "/", 'odd "id" it\'s!', data_view_id="news-articles")
    assert url.startswith("http://127.0.0.1:5601/app/discover#/?_g=(time:(from:now-1y,to:now))")
    assert " " not in url and '"' not in url
    app_state = unquote(url.split("&_a=", 1)[1])
    assert app_state == (
        "(dataSource:(dataViewId:news-articles,type:dataView),"
        'query:(language:kuery,query:\'id:"odd \\"id\\" it!\'s!!"\'))'
    )


def test_every_kibana_link_opens_the_configured_articles_data_view() -> None:
    body, _ = render_payload(target("webhook"), ALERT, kibana_url=KIBANA)
    assert "dataViewId:newsstream-articles" in unquote(orjson.loads(body)["links"]["kibana"])
    body, _ = render_digest(
        target("webhook"),
        [ALERT, SECOND],
        kibana_url=KIBANA,
        window_start="a",
        window_end="b",
        data_view_id="team-news",
    )
    links = [entry["links"]["kibana"] for entry in orjson.loads(body)["alerts"]]
    assert links == [
        kibana_link(ALERT.article_id, "team-news"),
        kibana_link(SECOND.article_id, "team-news"),
    ]


def test_slack_message_links_article_and_kibana_and_escapes_text() -> None:
    body, headers = render_payload(target("slack"), ALERT, kibana_url=KIBANA)
    message = orjson.loads(body)
    assert headers["Content-Type"] == "application/json"
    assert message["text"] == (
        "[newsstream] Sanctions news: EU sanctions &lt;Russian&gt; defence firms &amp; banks"
    )
    header, section, actions = message["blocks"]
    assert header["text"]["text"] == "Sanctions news"
    assert section["text"]["text"].startswith(
        "*<https://news.example.com/eu-sanctions|EU sanctions &lt;Russian&gt; defence firms"
    )
    assert "• topic sanctions (score 0.82)" in section["text"]["text"]
    assert [button["url"] for button in actions["elements"]] == [
        ALERT.article_url,
        kibana_link(ALERT.article_id),
    ]


def test_slack_digest_lists_each_alert() -> None:
    body, _ = render_digest(
        target("slack"), [ALERT, SECOND], kibana_url=KIBANA, window_start="a", window_end="b"
    )
    message = orjson.loads(body)
    assert message["blocks"][0]["text"]["text"] == "Sanctions news: 2 matches"
    assert len([b for b in message["blocks"] if b["type"] == "section"]) == 2


def test_teams_message_is_an_adaptive_card_with_both_links() -> None:
    body, _ = render_payload(target("teams"), ALERT, kibana_url=KIBANA)
    message = orjson.loads(body)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    texts = [block.get("text") for block in card["body"]]
    assert "Sanctions news" in texts and ALERT.article_title in texts
    actions = [
        a for block in card["body"] if block["type"] == "ActionSet" for a in block["actions"]
    ]
    assert [a["url"] for a in actions] == [
        ALERT.article_url,
        kibana_link(ALERT.article_id),
    ]


def test_template_target_renders_the_payload_in_a_sandbox() -> None:
    template = (
        '{"text": {{ (rule.name ~ ": " ~ alert.article.title) | tojson }}, '
        '"link": {{ alert.links.kibana | tojson }}, "n": {{ alerts | length }}}'
    )
    body, headers = render_payload(
        target("template", template=template, content_type="application/json; charset=utf-8"),
        ALERT,
        kibana_url=KIBANA,
    )
    rendered = json.loads(body)
    assert rendered["text"] == "Sanctions news: EU sanctions <Russian> defence firms & banks"
    assert rendered["link"] == kibana_link(ALERT.article_id)
    assert rendered["n"] == 1
    assert headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    "template",
    [
        "{{ payload.__class__.__mro__ }}",  # the sandbox refuses internals
        "{{ payload.clear() }}",  # and mutation
        "{{ missing_variable }}",  # undefined names fail instead of rendering empty
    ],
)
def test_a_failing_template_is_a_delivery_error_not_retried(template: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        render_payload(target("template", template=template), ALERT, kibana_url=KIBANA)
    assert not caught.value.retryable
    assert "template failed" in str(caught.value)


def test_target_headers_are_sent() -> None:
    _, headers = render_payload(
        target("webhook", headers=(("Authorization", "Bearer t0ken"),)), ALERT, kibana_url=KIBANA
    )
    assert headers == {"Content-Type": "application/json", "Authorization": "Bearer t0ken"}

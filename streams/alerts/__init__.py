"""Alerts: tell analysts, once, about the articles their rules describe. Rules match in
process the way Elasticsearch searches (so a rule can be tried in Kibana first), and each
alert is claimed in Elasticsearch before it is sent, so a replay never notifies twice."""

from streams.alerts.delivery import DeliveryResult, deliver
from streams.alerts.dispatcher import AlertDispatcher, RulesHolder, alert_id, alerts_for
from streams.alerts.explain import explain_file
from streams.alerts.matching import ArticleContext
from streams.alerts.payloads import render_digest, render_payload
from streams.alerts.query import FIELDS, elasticsearch_query, matches_query_string
from streams.alerts.rules import Rule, RuleSet, load_rules, parse_rules
from streams.alerts.signing import sign_headers, verify
from streams.alerts.targets import Target
from streams.alerts.throttle import NO_THROTTLE, ThrottlePolicy

__all__ = [
    "FIELDS",
    "NO_THROTTLE",
    "AlertDispatcher",
    "ArticleContext",
    "DeliveryResult",
    "Rule",
    "RuleSet",
    "RulesHolder",
    "Target",
    "ThrottlePolicy",
    "alert_id",
    "alerts_for",
    "deliver",
    "elasticsearch_query",
    "explain_file",
    "load_rules",
    "matches_query_string",
    "parse_rules",
    "render_digest",
    "render_payload",
    "sign_headers",
    "verify",
]

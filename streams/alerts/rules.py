"""Alert rules: load them from YAML, match articles, explain the outcome.

A rules file (the default is streams/data/rules.yaml; ops mount their own)::

    targets:                      # optional, see streams.alerts.targets
      risk-slack: {type: slack, url: "${RISK_SLACK_WEBHOOK_URL}"}
    rules:
      - id: sanctions-watch       # unique; letters, digits, . _ -
        name: Sanctions news      # shown in every alert
        description: ...          # optional
        enabled: true             # optional
        query: {topic: sanctions, min_score: 0.5}   # one form, see streams.alerts.matching
        targets: [default, risk-slack]              # optional, default [default]
        throttle: {max: 20, per: 1h}                # optional, see streams.alerts.throttle

``load_rules`` rejects a file with any invalid rule; the ConfigError names the file, each
bad rule and its problem (unknown field, bad query syntax, unknown target, duplicate id).
``RuleSet.match`` returns the rules an article fires with the evidence for each;
``RuleSet.explain`` says for every rule whether it fired and why, for ``newsstream rules
test``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
import yaml

from streams.alerts.matching import (
    ArticleContext,
    Condition,
    condition_fires,
    evaluate_condition,
    parse_condition,
)
from streams.alerts.payloads import render_template, webhook_payload
from streams.alerts.query import Outcome
from streams.alerts.targets import DEFAULT_TARGET, Target, default_target, parse_target
from streams.alerts.throttle import NO_THROTTLE, ThrottlePolicy, parse_throttle
from streams.errors import ConfigError
from streams.messages import Alert, EnrichedArticle

__all__ = [
    "Rule",
    "RuleExplanation",
    "RuleMatch",
    "RuleSet",
    "format_explanations",
    "load_rules",
    "parse_rules",
]

_RULE_FIELDS = ("id", "name", "description", "enabled", "query", "targets", "throttle")
_REQUIRED = ("id", "name", "query")
_FILE_FIELDS = frozenset({"version", "targets", "rules"})


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    query: Condition
    targets: tuple[str, ...] = (DEFAULT_TARGET,)
    throttle: ThrottlePolicy = NO_THROTTLE
    description: str = ""
    enabled: bool = True

    def evaluate(self, article: EnrichedArticle | ArticleContext) -> Outcome:
        context = article if isinstance(article, ArticleContext) else ArticleContext(article)
        return evaluate_condition(self.query, context)


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that fired, and why: matched terms, topics with scores, entity names."""

    rule: Rule
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleExplanation:
    rule_id: str
    rule_name: str
    fired: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    targets: Mapping[str, Target] = field(
        default_factory=lambda: MappingProxyType({DEFAULT_TARGET: default_target("")})
    )
    source: str = "<memory>"
    fingerprint: str = ""

    def match(self, article: EnrichedArticle | ArticleContext) -> list[RuleMatch]:
        """The enabled rules ``article`` fires, in file order."""
        context = article if isinstance(article, ArticleContext) else ArticleContext(article)
        matches = []
        for rule in self.rules:
            # Reasons are written only for the rules that fire (condition_fires is cheap).
            if rule.enabled and condition_fires(rule.query, context):
                matches.append(RuleMatch(rule, rule.evaluate(context).reasons))
        return matches

    def explain(self, article: EnrichedArticle) -> list[RuleExplanation]:
        """Every rule, fired or not, with the reasons; nothing is sent."""
        context = ArticleContext(article)
        explanations = []
        for rule in self.rules:
            outcome = rule.evaluate(context)
            reasons = outcome.reasons if rule.enabled else ("rule is disabled", *outcome.reasons)
            explanations.append(
                RuleExplanation(rule.id, rule.name, outcome.matched and rule.enabled, reasons)
            )
        return explanations

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def format_explanations(explanations: Sequence[RuleExplanation]) -> str:
    """Plain text for a terminal: one block per rule, fired rules marked."""
    lines = []
    for item in explanations:
        mark = "FIRES " if item.fired else "no    "
        lines.append(f"{mark} {item.rule_id}  ({item.rule_name})")
        lines.extend(f"         - {reason}" for reason in item.reasons)
    fired = sum(item.fired for item in explanations)
    lines.append(f"{fired} of {len(explanations)} rules fire")
    return "\n".join(lines)


def load_rules(
    path: Path,
    *,
    environ: Mapping[str, str],
    default_webhook_url: str,
    default_webhook_secret: str = "",
) -> RuleSet:
    """Read and validate a rules file; ConfigError names the file, the rule and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the rules file: {exc}") from exc
    return parse_rules(
        text,
        source=str(path),
        environ=environ,
        default_webhook_url=default_webhook_url,
        default_webhook_secret=default_webhook_secret,
    )


def parse_rules(
    text: str,
    *,
    source: str,
    environ: Mapping[str, str],
    default_webhook_url: str,
    default_webhook_secret: str = "",
) -> RuleSet:
    """Validate rules given as YAML text; ``source`` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise ConfigError(f"{source}: expected a mapping with a 'rules' list")
    problems: list[str] = []
    unknown = set(map(str, data)) - _FILE_FIELDS
    if unknown:
        problems.append(f"unknown top-level field {', '.join(sorted(unknown))}")
    if data.get("version", 1) != 1:
        problems.append(f"unsupported version {data.get('version')!r} (expected 1)")
    targets = _parse_targets(
        data.get("targets"), environ, default_webhook_url, default_webhook_secret, problems
    )
    rules = _parse_rule_list(data["rules"], targets, problems)
    if problems:
        header = f"{source}: " if len(problems) == 1 else f"{source}: {len(problems)} problems:\n  "
        raise ConfigError(header + "\n  ".join(problems))
    return RuleSet(
        rules=tuple(rules),
        targets=MappingProxyType(targets),
        source=source,
        fingerprint=hashlib.sha256(text.encode()).hexdigest(),
    )


def _parse_targets(
    spec: object,
    environ: Mapping[str, str],
    default_url: str,
    default_secret: str,
    problems: list[str],
) -> dict[str, Target]:
    targets = {DEFAULT_TARGET: default_target(default_url, default_secret)}
    if spec is None:
        return targets
    if not isinstance(spec, Mapping):
        problems.append("targets must map target names to their settings")
        return targets
    for name, target_spec in spec.items():
        try:
            target = parse_target(str(name), target_spec, environ)
            if target.template is not None:
                _check_template(target.template)
            targets[str(name)] = target
        except ConfigError as exc:
            problems.append(f"target {name!r}: {exc}")
    return targets


_SAMPLE_ALERT = Alert(
    alert_id="0" * 32,
    rule_id="sample-rule",
    rule_name="Sample rule",
    article_id="0" * 32,
    article_title="Sample article",
    article_url="https://example.com/news/sample",
    evidence=["topic sanctions (score 0.90)"],
    created_at="2025-01-01T00:00:00Z",
    targets=[DEFAULT_TARGET],
)


def _check_template(text: str) -> None:
    """Compile the template and render it for a sample alert, so mistakes show at load."""
    try:
        render_template(text, webhook_payload(_SAMPLE_ALERT, kibana_url="http://kibana:5601"))
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template error: {exc}") from exc


def _parse_rule_list(
    items: list[Any], targets: Mapping[str, Target], problems: list[str]
) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for position, spec in enumerate(items, start=1):
        label = _rule_label(spec, position)
        rule_id = spec.get("id") if isinstance(spec, Mapping) else None
        if isinstance(rule_id, str) and rule_id in seen:
            problems.append(f"{label}: duplicate id (rule #{seen[rule_id]} has it too)")
            continue
        if isinstance(rule_id, str):
            seen[rule_id] = position
        try:
            rules.append(_parse_rule(spec, targets))
        except ConfigError as exc:
            problems.append(f"{label}: {exc}")
    return rules


def _rule_label(spec: object, position: int) -> str:
    if isinstance(spec, Mapping) and isinstance(spec.get("id"), str):
        return f"rule {spec['id']!r}"
    return f"rule #{position}"


def _parse_rule(spec: object, targets: Mapping[str, Target]) -> Rule:
    if not isinstance(spec, Mapping):
        raise ConfigError("must be a mapping with id, name, query")
    unknown = set(map(str, spec)) - set(_RULE_FIELDS)
    if unknown:
        raise ConfigError(
            f"unknown field {', '.join(sorted(unknown))} (allowed: {', '.join(_RULE_FIELDS)})"
        )
    missing = [name for name in _REQUIRED if spec.get(name) in (None, "")]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}")
    rule_id, name = spec["id"], spec["name"]
    if not isinstance(rule_id, str) or not _valid_id(rule_id):
        raise ConfigError("id must be letters, digits, '.', '_' or '-' (at most 64)")
    if not isinstance(name, str):
        raise ConfigError("name must be a string")
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("enabled must be true or false")
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise ConfigError("description must be a string")
    try:
        query = parse_condition(spec["query"])
    except ConfigError as exc:
        raise ConfigError(f"query: {exc}") from exc
    try:
        throttle = parse_throttle(spec.get("throttle"))
    except ConfigError as exc:
        raise ConfigError(f"throttle: {exc}") from exc
    return Rule(
        id=rule_id,
        name=name.strip(),
        query=query,
        targets=_rule_targets(spec.get("targets"), targets),
        throttle=throttle,
        description=description.strip(),
        enabled=enabled,
    )


def _valid_id(rule_id: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    return 0 < len(rule_id) <= 64 and rule_id[0].isalnum() and set(rule_id) <= allowed


def _rule_targets(spec: object, targets: Mapping[str, Target]) -> tuple[str, ...]:
    if spec is None:
        return (DEFAULT_TARGET,)
    names = [spec] if isinstance(spec, str) else spec
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError("targets must be a non-empty list of target names")
    unknown = [name for name in names if name not in targets]
    if unknown:
        raise ConfigError(
            f"unknown target {', '.join(map(repr, unknown))} (defined: {', '.join(targets)})"
        )
    return tuple(dict.fromkeys(names))

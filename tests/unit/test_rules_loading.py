"""Rules files: the default set loads, targets expand from the environment, and an invalid
rule is rejected with a message naming the file, the rule and the problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from streams.alerts import NO_THROTTLE, ThrottlePolicy, load_rules, parse_rules
from streams.alerts.matching import AnyCondition, KeywordsCondition, TopicCondition
from streams.errors import ConfigError
from streams.settings import Settings

HOOK = "http://127.0.0.1:8787/hook"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path, environ: dict[str, str] | None = None) -> object:
    return load_rules(path, environ=environ or {}, default_webhook_url=HOOK)


def rejection(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path, environ)
    message = str(caught.value)
    assert message.startswith(str(path))
    return message


def test_the_default_rule_set_loads_and_targets_the_default_webhook() -> None:
    rules = load_rules(Settings().rules_path, environ={}, default_webhook_url=HOOK)
    ids = [rule.id for rule in rules.rules]
    assert {"sanctions-watch", "tariffs", "export-controls", "screening-hit"} <= set(ids)
    assert any(rule.id == "china-sanctions" for rule in rules.rules)
    assert all(rule.targets == ("default",) for rule in rules.rules)
    assert rules.targets["default"].url == HOOK
    assert rules.rule("sanctions-watch").query == TopicCondition("sanctions", 0.5)
    assert rules.rule("tariffs").query == KeywordsCondition(("tariff",))
    assert isinstance(rules.rule("export-controls").query, AnyCondition)
    assert len(rules.fingerprint) == 64


def test_targets_expand_environment_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        targets:
          risk-slack: {type: slack, url: "${SLACK_URL}"}
          siem:
            type: webhook
            url: https://siem.example.com/hook
            secret: ${SIEM_SECRET}
            headers: {Authorization: "Bearer ${SIEM_TOKEN:-none}"}
        rules:
          - id: r1
            name: Rule one
            query: {topic: sanctions}
            targets: [risk-slack, siem, default]
            throttle: {max: 5, per: 1h}
        """,
    )
    environ = {"SLACK_URL": "https://hooks.slack.com/services/T/B/X", "SIEM_SECRET": "s3cret"}
    rules = load_rules(path, environ=environ, default_webhook_url=HOOK)
    assert rules.targets["risk-slack"].url == "https://hooks.slack.com/services/T/B/X"
    assert rules.targets["siem"].secret == "s3cret"
    assert "s3cret" not in repr(rules.targets["siem"])
    assert rules.targets["siem"].headers == (("Authorization", "Bearer none"),)
    rule = rules.rule("r1")
    assert rule.targets == ("risk-slack", "siem", "default")
    assert rule.throttle == ThrottlePolicy.limit(5, 3600)


def test_a_file_may_redefine_the_default_target(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        targets:
          default: {type: teams, url: "https://teams.example.com/hook"}
        rules:
          - {id: r1, name: One, query: {screening: true}}
        """,
    )
    rules = load_rules(path, environ={}, default_webhook_url=HOOK)
    assert rules.targets["default"].type == "teams"
    assert rules.rule("r1").throttle == NO_THROTTLE


def test_without_a_webhook_url_the_default_target_is_disabled() -> None:
    rules = parse_rules(
        "rules: [{id: r1, name: One, query: 'countries:CN'}]",
        source="inline",
        environ={},
        default_webhook_url="",
    )
    assert not rules.targets["default"].enabled


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("{id: r1, name: One, querry: {topic: sanctions}}", "rule 'r1': unknown field querry"),
        ("{id: r1, name: One}", "rule 'r1': missing query"),
        ("{name: One, query: {topic: x}}", "rule #1: missing id"),
        ("{id: 'bad id!', name: One, query: {topic: x}}", "id must be letters"),
        (
            "{id: r1, name: One, query: {query_string: 'countries:(CN'}}",
            "rule 'r1': query: query_string syntax error",
        ),
        (
            "{id: r1, name: One, query: {query_string: 'headline:x'}}",
            "rule 'r1': query: query_string: unknown field 'headline'",
        ),
        (
            "{id: r1, name: One, query: {topic: sanctions}, targets: [pager]}",
            "rule 'r1': unknown target 'pager' (defined: default)",
        ),
        (
            "{id: r1, name: One, query: {topic: sanctions, keywords: [x]}}",
            "query needs exactly one of",
        ),
        ("{id: r1, name: One, query: {topic: sanctions, min_score: 2}}", "min_score must be"),
        (
            "{id: r1, name: One, query: {keywords: [x], match: most}}",
            "match must be 'any' or 'all'",
        ),
        ("{id: r1, name: One, query: {screening: false}}", "screening must be true"),
        ("{id: r1, name: One, query: {topic: x}, throttle: {max: 0, per: 1h}}", "throttle: "),
        ("{id: r1, name: One, query: {topic: x}, throttle: {digest: soon}}", "not a duration"),
        ("{id: r1, name: One, query: {all: []}}", "non-empty list"),
    ],
)
def test_an_invalid_rule_is_rejected_naming_rule_and_problem(
    tmp_path: Path, rule: str, problem: str
) -> None:
    message = rejection(tmp_path, f"rules:\n  - {rule}\n")
    assert problem in message


def test_a_duplicate_id_is_rejected(tmp_path: Path) -> None:
    message = rejection(
        tmp_path,
        """
        rules:
          - {id: r1, name: One, query: {topic: sanctions}}
          - {id: r1, name: Again, query: {topic: trade}}
        """,
    )
    assert "rule 'r1': duplicate id (rule #1 has it too)" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    message = rejection(
        tmp_path,
        """
        rules:
          - {id: r1, name: One, query: {topic: sanctions}, targets: [nowhere]}
          - {id: r2, name: Two, query: 'title:('}
        """,
    )
    assert "2 problems" in message
    assert "rule 'r1': unknown target 'nowhere'" in message
    assert "rule 'r2': query: query_string syntax error" in message


@pytest.mark.parametrize(
    ("targets", "problem"),
    [
        ("pager: {type: sms, url: 'https://x'}", "target 'pager': type must be one of"),
        ("pager: {type: webhook, url: '${PAGER_URL}'}", "PAGER_URL is not set"),
        ("pager: {type: webhook, url: 'ftp://x'}", "url must be an http(s) URL"),
        ("pager: {type: template, url: 'https://x'}", "a template is required"),
        ("pager: {type: webhook, url: 'https://x', retries: 3}", "unknown field retries"),
        (
            "pager: {type: template, url: 'https://x', template: '{{ alert.nope }}'}",
            "target 'pager': template error",
        ),
        (
            "pager: {type: template, url: 'https://x', template: '{% if %}'}",
            "target 'pager': template error",
        ),
    ],
)
def test_an_invalid_target_is_rejected(tmp_path: Path, targets: str, problem: str) -> None:
    message = rejection(
        tmp_path,
        f"targets:\n  {targets}\nrules:\n  - {{id: r1, name: One, query: {{topic: x}}}}\n",
    )
    assert problem in message


def test_yaml_errors_and_wrong_shapes_are_config_errors(tmp_path: Path) -> None:
    assert "not valid YAML" in rejection(tmp_path, "rules: [\n")
    assert "expected a mapping with a 'rules' list" in rejection(tmp_path, "- just a list\n")
    assert "unknown top-level field rulez" in rejection(tmp_path, "rules: []\nrulez: []\n")
    with pytest.raises(ConfigError, match="cannot read the rules file"):
        load(tmp_path / "missing.yaml")

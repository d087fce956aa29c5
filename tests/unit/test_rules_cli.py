"""`newsstream rules test` and the worker's rule reloading, without any server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from streams.alerts import RulesHolder
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GOOD = "version: 1\nrules:\n  - id: sanctions\n    name: Sanctions\n    query: {topic: sanctions}\n"


def rules_test(rules: Path, article: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "rules",
            "test",
            str(rules),
            "--article",
            str(article),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_rules_test_explains_which_rules_fire_on_a_raw_article() -> None:
    result = rules_test(
        ROOT / "streams" / "data" / "rules.yaml", ROOT / "samples" / "seed_article.jsonl"
    )
    assert result.returncode == 0, result.stderr
    assert "FIRES  sanctions-watch" in result.stdout
    assert "Sergei Shoigu" in result.stdout
    assert "no     tariffs" in result.stdout


def test_rules_test_names_file_and_rule_of_an_invalid_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - id: bad-one\n    name: Bad\n    query: {colour: red}\n"
    )
    result = rules_test(rules, ROOT / "samples" / "seed_article.jsonl")
    assert result.returncode == 1
    assert str(rules) in result.stderr and "bad-one" in result.stderr


def test_a_running_worker_reloads_changed_rules_and_keeps_the_last_good_ones(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD)
    holder = RulesHolder.load(Settings(rules_path=rules), environ={})
    assert [r.id for r in holder.current.rules] == ["sanctions"]

    rules.write_text(GOOD.replace("id: sanctions", "id: renamed"))
    os.utime(rules, (time.time() + 5, time.time() + 5))
    assert holder.reload_if_changed()
    assert [r.id for r in holder.current.rules] == ["renamed"]

    rules.write_text("version: 1\nrules:\n  - id: broken\n    query: {topic: }\n")
    os.utime(rules, (time.time() + 10, time.time() + 10))
    assert not holder.reload_if_changed()
    assert [r.id for r in holder.current.rules] == ["renamed"]


def test_the_rules_of_the_helm_example_and_the_defaults_load(tmp_path: Path) -> None:
    import yaml

    from streams.alerts import load_rules

    values = ROOT / "deploy" / "helm" / "newsstream" / "ci" / "production-values.yaml"
    helm_rules = tmp_path / "rules.yaml"
    helm_rules.write_text(yaml.safe_load(values.read_text())["rules"]["content"])
    for path in (helm_rules, ROOT / "streams" / "data" / "rules.yaml"):
        rules = load_rules(path, environ={}, default_webhook_url="http://127.0.0.1:1/hook")
        assert {r.id for r in rules.rules} >= {"sanctions-watch"}

"""schemas/*.schema.json are generated from the models, and real records follow them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from streams.errors import InvalidArticle
from streams.messages import (
    dumps,
    parse_raw_article,
)
from streams.messages.schema import MESSAGES, SCHEMA_DIR, generated, main

from .messages_examples import a_dead_letter, an_alert, an_enriched_article

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(name: str, record: Any) -> list[str]:
    return [error.message for error in validator(name).iter_errors(record)]


def test_committed_schemas_are_what_the_models_generate() -> None:
    committed = {path.name for path in (ROOT / "schemas").glob("*.schema.json")}
    assert committed == set(generated()), "run `make schemas`"
    for name, content in generated().items():
        assert (ROOT / "schemas" / name).read_bytes() == content, f"{name}: run `make schemas`"


def test_the_package_ships_the_same_files() -> None:
    for name, content in generated().items():
        assert (SCHEMA_DIR / name).read_bytes() == content


def test_check_mode_reports_drift_and_writes_nothing(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert list(tmp_path.iterdir()) == []
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_schema_is_valid_draft_2020_12(name: str) -> None:
    validator(name)


def test_sample_articles_follow_the_raw_article_schema() -> None:
    lines = [
        line
        for path in ("articles.jsonl", "seed_article.jsonl")
        for line in (SAMPLES / path).read_bytes().splitlines()
        if line.strip()
    ]
    assert len(lines) == 10
    for line in lines:
        assert errors("raw_article", json.loads(line)) == []


def test_malformed_samples_that_parse_do_not_follow_the_schema() -> None:
    # The first line is not JSON at all: no schema can speak about it.
    for line in (SAMPLES / "malformed.jsonl").read_bytes().splitlines()[1:]:
        assert errors("raw_article", json.loads(line)) != []


# The gate and the schema say the same: accepted iff valid (formats aside).
RAW_RECORDS: list[dict[str, Any]] = [
    {"title": "t", "text": "b"},
    {"url": "https://example.com/a", "html": "<p>x</p>"},
    {"id": "abc", "title": None, "url": "https://example.com/a", "text": "b", "extra": [1]},
    {"id": None, "title": "t", "text": "   ", "html": "<p>x</p>"},
    {"title": "  ", "url": "https://example.com/a", "text": "b"},
    {"title": "t"},
    {"title": "t", "text": "  "},
    {"text": "b"},
    {"title": "   ", "text": "b"},
    {"title": "t", "url": "", "text": "b", "html": None},
    {"title": "", "url": "", "text": "b"},
    {"id": "", "title": "t", "text": "b"},
    {"id": " ", "title": "t", "text": "b"},
    {"id": 7, "title": "t", "text": "b"},
    {"title": 0, "url": "https://example.com/a", "text": "b"},
    {"title": "t", "text": "b", "language": 1},
    {"title": "t", "text": ["b"]},
]


@pytest.mark.parametrize("record", RAW_RECORDS)
def test_the_raw_schema_accepts_what_the_gate_accepts(record: dict[str, Any]) -> None:
    try:
        parse_raw_article(record)
        accepted = True
    except InvalidArticle:
        accepted = False
    assert (errors("raw_article", record) == []) is accepted


def test_an_enriched_article_follows_its_schema() -> None:
    assert errors("enriched_article", json.loads(dumps(an_enriched_article()))) == []
    assert errors(
        "enriched_article", {**json.loads(dumps(an_enriched_article())), "countries": ["be"]}
    )


def test_an_alert_and_a_dead_letter_follow_their_schemas() -> None:
    alert, letter = an_alert(), a_dead_letter()
    assert errors("alert", json.loads(dumps(alert))) == []
    assert errors("dead_letter", json.loads(dumps(letter))) == []
    assert errors("dead_letter", {**json.loads(dumps(letter)), "stage": "elsewhere"})

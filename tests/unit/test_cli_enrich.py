"""`newsstream enrich` as a user runs it: a subprocess reading JSON Lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def enrich(
    stdin: bytes, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "enrich", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=300,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


@pytest.fixture(scope="module")
def mixed_run() -> subprocess.CompletedProcess[bytes]:
    good = (SAMPLES / "articles.jsonl").read_bytes()
    bad = (SAMPLES / "malformed.jsonl").read_bytes()
    return enrich(bad.splitlines()[0] + b"\n" + good + bad)


def records(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_one_output_per_valid_line_in_input_order(
    mixed_run: subprocess.CompletedProcess[bytes],
) -> None:
    inputs = [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_bytes().splitlines()]
    outputs = records(mixed_run.stdout)
    assert [o["title"] for o in outputs] == [i["title"] for i in inputs]


def test_invalid_lines_are_reported_on_stderr_and_the_rest_go_on(
    mixed_run: subprocess.CompletedProcess[bytes],
) -> None:
    errors = [json.loads(line) for line in mixed_run.stderr.splitlines() if line.startswith(b"{")]
    assert mixed_run.returncode == 2
    assert [e["line"] for e in errors] == [1, 11, 12, 13]
    assert all(e["error"] and e["error_type"] == "InvalidArticle" for e in errors)


def test_output_matches_the_enriched_article_schema(
    mixed_run: subprocess.CompletedProcess[bytes],
) -> None:
    schema = json.loads((ROOT / "schemas" / "enriched_article.schema.json").read_text())
    for record in records(mixed_run.stdout):
        jsonschema.validate(record, schema)


def test_no_clean_keeps_the_input_text_and_spans_point_into_it() -> None:
    text = (
        "Russia's ambassador Igor Morgulov met Chinese Foreign Minister Wang Yi in Moscow.\n\n"
        "Latest\n\nerror: Content is protected !!"
    )
    line = json.dumps({"title": "Talks", "text": text}).encode()
    result = enrich(line + b"\n", "--no-clean")
    assert result.returncode == 0, result.stderr.decode()
    (record,) = records(result.stdout)
    assert record["body"] == text
    mentions = {e["name"]: [text[s:e] for s, e in e["spans"]] for e in record["entities"]}
    assert mentions["Igor Morgulov"] == ["Igor Morgulov"]
    assert mentions["Wang Yi"] == ["Wang Yi"]
    assert mentions["Moscow"] == ["Moscow"]


def test_raw_samples_match_the_raw_article_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "raw_article.schema.json").read_text())
    for line in (SAMPLES / "articles.jsonl").read_bytes().splitlines():
        jsonschema.validate(json.loads(line), schema)


def test_every_process_writes_the_same_document_for_the_same_article() -> None:
    # Two workers (or a worker and its restart) hash strings differently: nothing in a
    # document may follow set or dict order of strings, or a replay rewrites it.
    listed = {
        "title": "Rosneft chief meets envoys",
        "text": "Igor Sechin, who heads Rosneft, met envoys in Moscow on Monday. Officials "
        "said the Internet Research Agency and Hezbollah were discussed.",
    }
    articles = b"".join(
        [
            (SAMPLES / "articles.jsonl").read_bytes(),
            (SAMPLES / "seed_article.jsonl").read_bytes(),
            json.dumps(listed).encode() + b"\n",
        ]
    )
    fixtures = ROOT / "tests" / "fixtures" / "sanctions"
    runs = [
        enrich(
            articles,
            env={
                "PYTHONHASHSEED": seed,
                "NEWSSTREAM_SANCTIONS_OFAC_PATHS": str(fixtures),
                "NEWSSTREAM_SANCTIONS_UN_PATHS": str(fixtures / "un_consolidated.xml"),
            },
        )
        for seed in ("1", "2")
    ]
    documents = [
        [{k: v for k, v in doc.items() if k != "ingested_at"} for doc in records(run.stdout)]
        for run in runs
    ]
    assert [run.returncode for run in runs] == [0, 0]
    assert len(documents[0]) == 11
    assert any(doc["screening"] for doc in documents[0])
    assert documents[0] == documents[1]

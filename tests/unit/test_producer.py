from __future__ import annotations

from pathlib import Path

import orjson

from streams.messages import parse_raw_article
from streams.producers import to_record

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_valid_line_is_keyed_by_its_stable_id() -> None:
    line = b'{"url": "https://example.com/x?utm_source=rss", "title": "T", "text": "body"}'
    record = to_record(line)
    assert record.error is None
    value = orjson.loads(record.value)
    assert record.key.decode() == value["id"] == parse_raw_article(line).id


def test_invalid_line_is_kept_verbatim_for_the_dlq() -> None:
    line = b'{"title": "no body"}'
    record = to_record(line)
    assert record.value == line
    assert record.error and "text" in record.error


def test_every_committed_sample_is_valid_and_every_malformed_one_is_not() -> None:
    good = [
        to_record(ln) for ln in (SAMPLES / "articles.jsonl").read_bytes().splitlines() if ln.strip()
    ]
    bad = [
        to_record(ln)
        for ln in (SAMPLES / "malformed.jsonl").read_bytes().splitlines()
        if ln.strip()
    ]
    assert good and all(r.error is None for r in good)
    assert len({r.key for r in good}) == len(good)
    assert bad and all(r.error for r in bad)

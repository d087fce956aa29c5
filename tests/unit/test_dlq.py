from __future__ import annotations

import base64

import pytest

from streams.errors import InvalidArticle
from streams.worker import DlqLimit, DlqLimitExceeded
from streams.worker.dlq import dead_letter


def test_dead_letter_keeps_reason_origin_and_bytes() -> None:
    letter = dead_letter(
        error=InvalidArticle("not valid JSON"),
        stage="parse",
        topic="articles.raw",
        partition=2,
        offset=41,
        original=b"\xff{broken",
        failed_at="2026-01-01T00:00:00Z",
    )
    assert letter.reason == "not valid JSON"
    assert letter.error_type == "InvalidArticle"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "articles.raw",
        2,
        41,
    )
    assert base64.b64decode(letter.original) == b"\xff{broken"


def test_limit_allows_occasional_failures() -> None:
    limit = DlqLimit(max_ratio=0.5, window=10)
    for i in range(100):
        limit.record(failed=i % 4 == 0)


def test_limit_stops_when_most_records_fail() -> None:
    limit = DlqLimit(max_ratio=0.8, window=10)
    for _ in range(9):
        limit.record(failed=True)
    with pytest.raises(DlqLimitExceeded, match="inspect the DLQ"):
        limit.record(failed=True)


def test_a_huge_original_is_cut_so_the_dead_letter_fits_in_kafka() -> None:
    from streams.worker.dlq import MAX_ORIGINAL_BYTES

    huge = b"x" * (MAX_ORIGINAL_BYTES + 10)
    letter = dead_letter(
        error=InvalidArticle("too big"),
        stage="parse",
        topic="t",
        partition=0,
        offset=0,
        original=huge,
        failed_at="2026-01-01T00:00:00Z",
    )
    assert letter.original_truncated and letter.original_size == len(huge)
    assert len(base64.b64decode(letter.original)) == MAX_ORIGINAL_BYTES

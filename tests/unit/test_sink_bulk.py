from __future__ import annotations

import orjson

from streams.elastic.bulk import classify_items, index_operations


def test_operations_carry_the_article_id_as_document_id() -> None:
    ops = index_operations("news", [("a1", {"id": "a1"}), ("b2", {"id": "b2"})])
    assert [orjson.loads(line) for line in ops] == [
        {"index": {"_index": "news", "_id": "a1"}},
        {"id": "a1"},
        {"index": {"_index": "news", "_id": "b2"}},
        {"id": "b2"},
    ]


def test_a_document_given_as_bytes_is_sent_as_it_is() -> None:
    record = b'{"id":"a1","title":"Kept  as written"}'
    assert index_operations("news", [("a1", record)])[1] is record


def test_items_are_classified_indexed_retryable_or_rejected() -> None:
    items = [
        {"index": {"_id": "ok", "status": 201}},
        {"index": {"_id": "again", "status": 200}},
        {
            "index": {
                "_id": "busy",
                "status": 429,
                "error": {"type": "es_rejected_execution_exception", "reason": "queue full"},
            }
        },
        {
            "index": {
                "_id": "bad",
                "status": 400,
                "error": {"type": "document_parsing_exception", "reason": "failed to parse"},
            }
        },
    ]
    outcome = classify_items(items)
    assert outcome.indexed == ["ok", "again"]
    assert set(outcome.retryable) == {"busy"}
    assert "queue full" in outcome.retryable["busy"]
    assert set(outcome.rejected) == {"bad"}
    assert outcome.rejected["bad"].startswith("400 document_parsing_exception")

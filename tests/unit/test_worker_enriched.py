"""One decode of an enriched record for the two stages that read it."""

from __future__ import annotations

import orjson
import pytest

from streams.errors import InvalidArticle, InvalidRecord
from streams.messages import dumps
from streams.worker.dlq import Origin
from streams.worker.enriched import SharedDecoder, decode_enriched
from tests.unit.messages_examples import an_enriched_article


def a_record(offset: int, value: bytes | None = None) -> Origin:
    return Origin("articles.enriched", 0, offset, b"key", value or dumps(an_enriched_article()))


def test_the_second_reader_gets_the_first_reader_s_decode_and_nothing_is_left() -> None:
    decode = SharedDecoder(readers=2, capacity=10)
    batch = [a_record(offset) for offset in range(3)]

    first = [decode(record) for record in batch]
    second = [decode(record) for record in batch]

    assert all(b is a for a, b in zip(first, second, strict=True))
    assert first[0].article == an_enriched_article()
    assert len(decode) == 0


def test_a_record_read_again_is_decoded_again() -> None:
    decode = SharedDecoder(readers=2, capacity=10)
    first = decode(a_record(7))
    # After a rebalance the same offset comes back as new bytes (other bytes, if the
    # topic was recreated): what was left for the first copy must not be used.
    again = decode(a_record(7, dumps(an_enriched_article()).replace(b'"en"', b'"de"')))

    assert again is not first
    assert again.article.language == "de"


def test_what_no_reader_takes_is_dropped_oldest_first() -> None:
    decode = SharedDecoder(readers=2, capacity=3)
    records = [a_record(offset) for offset in range(5)]
    ahead = [decode(record) for record in records]

    assert len(decode) == 3
    assert decode(records[4]) is ahead[4]  # still held
    assert decode(records[0]) is not ahead[0]  # dropped: decoded again, as good
    assert decode(records[0]).article == ahead[0].article
    assert len(decode) <= 3


def test_one_reader_keeps_nothing() -> None:
    decode = SharedDecoder(readers=1, capacity=10)
    decode(a_record(1))
    assert len(decode) == 0


@pytest.mark.parametrize(
    ("value", "error"),
    [(b"{not json", InvalidRecord), (b'{"id": "x"}', InvalidArticle), (b"[1, 2]", InvalidArticle)],
)
def test_a_bad_record_raises_for_every_reader_and_is_not_kept(
    value: bytes, error: type[Exception]
) -> None:
    decode = SharedDecoder(readers=2, capacity=10)
    record = a_record(3, value)
    for _ in range(2):
        with pytest.raises(error):
            decode(record)
    assert len(decode) == 0


def test_decode_enriched_keeps_the_json_document_beside_the_article() -> None:
    article = an_enriched_article()
    decoded = decode_enriched(a_record(0, dumps(article)))
    assert decoded.article == article
    assert decoded.document == orjson.loads(dumps(article))

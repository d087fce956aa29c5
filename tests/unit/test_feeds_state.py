"""The poller's state per feed: recording published ids, (de)serialisation."""

from __future__ import annotations

import orjson
import pytest

from streams.errors import InvalidRecord
from streams.producers import FeedState, decode_state, encode_state

URL = "https://example.org/rss"


def test_state_round_trips() -> None:
    state = FeedState(
        URL, etag='"abc"', last_modified="Tue, 01 Dec 2026 08:30:00 GMT", seen=("a", "b")
    )
    assert decode_state(URL.encode(), encode_state(state)) == state
    assert orjson.loads(encode_state(state))["version"] == 1


def test_recorded_appends_new_ids_once_and_takes_the_validators() -> None:
    state = FeedState(URL, etag='"old"', seen=("a", "b"))
    after = state.recorded(["b", "c", "c", "d"], etag='"new"', last_modified=None)
    assert after.seen == ("a", "b", "c", "d")
    assert after.etag == '"new"' and after.last_modified is None
    assert state.seen == ("a", "b")  # frozen: the old state is unchanged


def test_seen_ids_are_bounded_keeping_the_newest() -> None:
    state = FeedState(URL).recorded(
        [str(i) for i in range(10)], etag=None, last_modified=None, limit=4
    )
    assert state.seen == ("6", "7", "8", "9")
    assert state.recorded(["10"], etag=None, last_modified=None, limit=4).seen == (
        "7",
        "8",
        "9",
        "10",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"not json", "is not JSON"),
        (b"[]", "is not a version 1 state"),
        (b'{"version": 2, "seen": []}', "is not a version 1 state"),
        (b'{"version": 1, "seen": "abc"}', "'seen' is not a list of ids"),
        (b'{"version": 1, "seen": [1, 2]}', "'seen' is not a list of ids"),
        (b'{"version": 1, "seen": [], "etag": 5}', "validators are not strings"),
    ],
)
def test_a_bad_state_record_is_an_invalid_record(value: bytes, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        decode_state(URL.encode(), value)


def test_a_state_without_validators_reads() -> None:
    assert decode_state(URL, b'{"version": 1, "seen": ["x"]}') == FeedState(URL, seen=("x",))


def test_the_backoff_round_trips_and_a_good_poll_clears_it() -> None:
    failing = FeedState(URL, seen=("a",)).failed(retry_at=1_000.5).failed(retry_at=2_000.0)
    assert (failing.failures, failing.retry_at) == (2, 2_000.0)
    assert decode_state(URL, encode_state(failing)) == failing
    after = failing.recorded(["b"], etag='"e"', last_modified=None)
    assert (after.failures, after.retry_at, after.seen) == (0, None, ("a", "b"))
    assert failing.succeeded() == FeedState(URL, seen=("a",))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('"failures": -1', "'failures' is not a count"),
        ('"failures": true', "'failures' is not a count"),
        ('"failures": 1, "retry_at": "soon"', "'retry_at' is not a time"),
    ],
)
def test_a_bad_backoff_is_an_invalid_record(extra: str, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        decode_state(URL, b'{"version": 1, "seen": [], ' + extra.encode() + b"}")

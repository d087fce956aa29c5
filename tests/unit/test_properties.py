"""Properties of the parse gate, the ids and the body cap, over generated input (hypothesis)."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.errors import InvalidArticle, InvalidRecord
from streams.messages import (
    alert_from_json,
    dead_letter_from_json,
    dumps,
    enriched_from_json,
    parse_raw_article,
    truncate_at_word,
)
from streams.messages.codec import article_id, canonical_url, normalise_text
from streams.messages.limits import ID_PATTERN

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the parse gate: anything in, an article or InvalidArticle out ------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what JSON numbers orjson writes
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Records shaped like articles, so generated input also gets past the JSON checks.
FIELDS = ("id", "title", "url", "text", "html", "source", "published_at", "language")
article_like = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=5),
    st.none() | st.text(max_size=40) | json_values,
    max_size=8,
)


def parsed_or_refused(data: Any, **kwargs: Any) -> None:
    try:
        article = parse_raw_article(data, **kwargs)
    except InvalidArticle:
        return
    # What passed the gate passes it again as published, with its id kept.
    assert ID_PATTERN.fullmatch(article.id)
    assert parse_raw_article(dumps(article)) == article


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_are_an_article_or_invalid_article(data: bytes) -> None:
    parsed_or_refused(data)


@FAST
@given(json_values | article_like)
def test_any_json_value_is_an_article_or_invalid_article(value: Any) -> None:
    parsed_or_refused(orjson.dumps(value))
    if isinstance(value, dict):
        parsed_or_refused(value)


@FAST
@given(article_like, st.integers(min_value=1, max_value=400))
def test_the_size_limit_refuses_cleanly_whatever_the_record(record: Any, limit: int) -> None:
    parsed_or_refused(orjson.dumps(record), max_bytes=limit)
    parsed_or_refused(record, max_bytes=limit)


@FAST
@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_every_decoder_raises_only_invalid_record(data: bytes) -> None:
    for decode in (enriched_from_json, alert_from_json, dead_letter_from_json):
        with contextlib.suppress(InvalidRecord):  # anything else fails the test
            decode(data)


# --- ids: equal for what the project treats as one URL, different otherwise --------------

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
TRACKING = ("fbclid", "gclid", "mc_cid", "mc_eid", "ref", "cmpid", "ocid", "igshid")
tracking_name = st.sampled_from(TRACKING) | word.map(lambda w: "utm_" + w)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str]:
    """(the plain URL, the same URL as a share button or a feed would write it)."""
    host = ".".join(draw(st.lists(word, min_size=2, max_size=3)))
    path = "/".join(draw(st.lists(word, max_size=3)))
    query = draw(
        st.lists(
            st.tuples(word.map(lambda w: "q" + w), word), max_size=3, unique_by=lambda kv: kv[0]
        )
    )
    plain = f"https://{host}/{path}" + (
        "?" + "&".join(f"{k}={v}" for k, v in query) if query else ""
    )
    tracking = draw(
        st.lists(st.tuples(tracking_name.map(_random_case(draw)), word), min_size=1, max_size=3)
    )
    params = draw(st.permutations([*query, *tracking]))
    variant = (
        f"{draw(st.sampled_from(['http', 'https', 'HTTP', 'Https']))}://"
        f"{draw(st.sampled_from(['', 'www.', 'WWW.']))}{_random_case(draw)(host)}/{path}"
        f"{draw(st.sampled_from(['', '/']))}?{'&'.join(f'{k}={v}' for k, v in params)}"
        f"{draw(st.sampled_from(['', '#top', '#comments']))}"
    )
    return plain, variant


def _random_case(draw: st.DrawFn) -> Any:
    flips = draw(st.lists(st.booleans(), min_size=1, max_size=8))
    return lambda text: "".join(
        c.upper() if flips[i % len(flips)] else c for i, c in enumerate(text)
    )


def url_id(url: str) -> str:
    return article_id(url=url, title="any", text="any", html=None)


@FAST
@given(urls())
def test_the_id_ignores_tracking_parameters_host_case_www_fragments_and_slashes(
    pair: tuple[str, str],
) -> None:
    plain, variant = pair
    assert url_id(plain) == url_id(variant)
    title_and_text = parse_raw_article({"url": variant, "title": "T", "text": "b"})
    assert title_and_text.id == url_id(plain)


@FAST
@given(urls(), urls(), word)
def test_different_pages_get_different_ids(
    a: tuple[str, str], b: tuple[str, str], extra: str
) -> None:
    assert (url_id(a[1]) == url_id(b[1])) == (canonical_url(a[0]) == canonical_url(b[0]))
    page, _, query = a[0].partition("?")
    other_page = f"{page.rstrip('/')}/{extra}" + (f"?{query}" if query else "")
    assert url_id(a[0]) != url_id(other_page)


ascii_text = st.text(alphabet="abcXYZ \n\t", max_size=40)


@FAST
@given(ascii_text, ascii_text)
def test_a_content_id_ignores_case_and_whitespace(title: str, text: str) -> None:
    shouting = "  " + "\n".join(title.upper().split()) + " "
    spread = "\t".join(text.split())
    assert article_id(url=None, title=title, text=text, html=None) == article_id(
        url=None, title=shouting, text=spread, html=None
    )


@FAST
@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_content_ids_are_equal_exactly_when_the_normalised_content_is(
    title: str, text: str, other_title: str, other_text: str
) -> None:
    same = (normalise_text(title), normalise_text(text)) == (
        normalise_text(other_title),
        normalise_text(other_text),
    )
    first = article_id(url=None, title=title, text=text, html=None)
    second = article_id(url=None, title=other_title, text=other_text, html=None)
    assert (first == second) == same


# --- the body cap ---------------------------------------------------------------------------


@FAST
@given(st.text(alphabet=st.sampled_from("ab \n\tc\u00a0é"), max_size=300), st.integers(1, 200))
def test_a_cut_body_is_a_prefix_within_the_cap_ending_at_a_word(text: str, cap: int) -> None:
    body, truncated = truncate_at_word(text, cap)
    assert truncated == (len(text) > cap)
    assert text.startswith(body) and len(body) <= cap
    if truncated:
        # no word cut in half, unless no whitespace comes after the first word to cut at
        assert text[len(body)].isspace() or body == text[:cap]

"""The feeds file: what it accepts, the ConfigErrors it gives, reloading on change."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.errors import ConfigError
from streams.producers import FeedConfig, FeedsHolder, check_feeds_file, load_feeds, parse_feeds

ENV = {"EXAMPLE_TOKEN": "s3cret"}


def parse(text: str) -> tuple[FeedConfig, ...]:
    return parse_feeds(yaml.safe_load(text), environ=ENV)


def test_a_full_feed_and_the_defaults() -> None:
    full, minimal = parse(
        """
        version: 1
        feeds:
          - url: https://example.org/news/rss
            source: Example News
            language: de-AT
            interval: 90s
            headers: {Authorization: "Bearer ${EXAMPLE_TOKEN}", X-Count: 3}
          - url: http://other.example.net/atom.xml
        """
    )
    assert full == FeedConfig(
        url="https://example.org/news/rss",
        source="Example News",
        language="de-AT",
        interval=90.0,
        headers={"Authorization": "Bearer s3cret", "X-Count": "3"},
    )
    assert minimal.source == "other.example.net"  # the host when no source is given
    assert minimal.interval == 15 * 60 and minimal.language is None and minimal.headers == {}


@pytest.mark.parametrize(
    ("interval", "seconds"), [(60, 60.0), ("45", 45.0), ("15m", 900.0), ("1.5h", 5400.0)]
)
def test_intervals(interval: Any, seconds: float) -> None:
    (feed,) = parse_feeds(
        {"feeds": [{"url": "https://a.example/", "interval": interval}]}, environ={}
    )
    assert feed.interval == seconds


def test_name_is_another_word_for_source() -> None:
    (feed,) = parse("feeds: [{url: 'https://a.example/rss', name: A}]")
    assert feed.source == "A"


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ("{source: x}", r"feed 1: 'url' must be a non-empty string"),
        ("{url: ftp://a.example/rss}", r"feed 1 \(ftp://a.example/rss\): url .* is not an http"),
        (
            "{url: 'https://a.example', intervall: 5m}",
            r"unknown field 'intervall' \(did you mean 'interval'\?\)",
        ),
        ("{url: 'https://a.example', interval: soon}", r"interval 'soon' is not a duration"),
        ("{url: 'https://a.example', interval: 2s}", r"interval '2s' is shorter than 10s"),
        ("{url: 'https://a.example', language: english}", r"'english' is not a language tag"),
        ("{url: 'https://a.example', headers: [a]}", r"'headers' must map header names"),
        ("{url: 'https://a.example', headers: {A: '${NOPE}'}}", r"\$\{NOPE\} is not set"),
        ("{url: 'https://a.example', name: a, source: b}", r"give 'source' or 'name'"),
        ("https://a.example", r"feed 1: expected a mapping"),
    ],
)
def test_a_bad_feed_is_a_config_error_naming_it(feed: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(f"feeds: [{feed}]")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        parse("feeds: [{url: 'https://a.example'}, {url: 'x'}, {url: 'https://a.example'}, {}]")
    text = str(error.value)
    assert "feed 2 (x)" in text and "feed 4" in text and "https://a.example is listed twice" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "expected a mapping with a list under 'feeds'"),
        ("feeds: {}", "expected a mapping with a list under 'feeds'"),
        ("{version: 2, feeds: []}", "version 2 is not supported"),
        ("{feeds: [], rules: []}", r"unknown top-level field\(s\) \['rules'\]"),
    ],
)
def test_a_bad_file_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_load_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the feeds file"):
        load_feeds(tmp_path / "missing.yaml", environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("feeds: [url: {")
    with pytest.raises(ConfigError, match=f"{broken}: not valid YAML"):
        load_feeds(broken, environ={})


def test_the_holder_reloads_a_changed_file_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: [{url: 'https://a.example/rss'}]")
    holder = FeedsHolder.load(path, environ={})
    assert not holder.reload_if_changed()

    path.write_text("feeds: [{url: 'https://a.example/rss'}, {url: 'https://b.example/rss'}]")
    bump(path)
    assert holder.reload_if_changed()
    assert [f.url for f in holder.current] == ["https://a.example/rss", "https://b.example/rss"]

    path.write_text("feeds: [{url: 'not a url'}]")
    bump(path)
    assert not holder.reload_if_changed()
    assert len(holder.current) == 2  # the last good list stays in force


def bump(path: Path) -> None:
    """A new modification time even within the file system's time resolution."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_check_lists_each_problem_on_a_line_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: [{url: 'https://a.example'}, {url: 'x'}, {url: 'https://a.example'}]")
    assert check_feeds_file(path, environ={}) == [
        f"{path}: feed 2 (x): url 'x' is not an http(s) URL",
        f"{path}: feed https://a.example is listed twice",
    ]
    path.write_text("feeds: [{url: 'https://a.example'}]")
    assert check_feeds_file(path, environ={}) == []
    assert check_feeds_file(tmp_path / "gone.yaml", environ={}) == [
        f"cannot read the feeds file {tmp_path / 'gone.yaml'}: No such file or directory"
    ]


def test_settings_check_validates_the_feeds_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli import EXIT_CONFIG, main

    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: [{url: 'ftp://a.example'}, {url: 'https://b.example', interval: 1s}]")
    for name in [n for n in os.environ if n.startswith("NEWSSTREAM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSSTREAM_FEEDS_PATH", str(path))
    assert main(["settings", "--check"]) == EXIT_CONFIG
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"newsstream: {path}: feed 1 (ftp://a.example): url 'ftp://a.example' is not an "
        "http(s) URL",
        f"newsstream: {path}: feed 2 (https://b.example): interval '1s' is shorter than 10s",
    ]
    path.write_text("feeds: [{url: 'https://b.example'}]")
    assert main(["settings", "--check"]) == 0
    assert capsys.readouterr().out == "settings OK\n"

"""The size policy on the real stack: an article near the limit travels through Kafka and
is indexed with its body cut and flagged; a line over the limit is dead-lettered by
`newsstream produce` while the lines after it are published."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.elastic import make_client
from streams.messages.limits import DEFAULT_MAX_ARTICLE_BYTES, DEFAULT_MAX_BODY_CHARS
from streams.producers import to_record
from streams.settings import Settings
from streams.setup import remove_everything

from .conftest import ROOT, consume_all, get_docs, isolated_settings, start_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def long_text(n_bytes: int, seed: str) -> str:
    sentence = f"The {seed} committee met again on tariffs and shipping rules in Geneva. "
    sentences = []
    size = 0
    number = 0
    while size < n_bytes:
        line = f"{sentence}Session {number} ended without agreement. "
        sentences.append(line)
        size += len(line)
        number += 1
    return "".join(sentences)


def article(url: str, title: str, text: str) -> bytes:
    return orjson.dumps({"url": url, "title": title, "text": text, "language": "en"})


@pytest.fixture
def own(tmp_path: Path) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path)
    yield settings
    remove_everything(settings)


def test_a_large_article_is_indexed_cut_and_an_oversized_line_is_dead_lettered(
    own: Settings, tmp_path: Path
) -> None:
    large = article(
        "https://news.example/large", "A very long report", long_text(1_500_000, "trade")
    )
    oversized = article(
        "https://news.example/oversized",
        "Far too long",
        long_text(DEFAULT_MAX_ARTICLE_BYTES + 100_000, "tariff"),
    )
    normal = (ROOT / "samples" / "articles.jsonl").read_bytes().splitlines()[0]
    # Over Kafka's default 1 MiB record limit, under the article limit.
    assert 1_048_576 < len(large) < DEFAULT_MAX_ARTICLE_BYTES < len(oversized)
    lines = tmp_path / "mixed.jsonl"
    lines.write_bytes(b"\n".join([large, oversized, normal]) + b"\n")

    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "produce", "--no-progress", str(lines)],
        cwd=ROOT,
        env={**os.environ, **own.as_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "published 2 records" in done.stdout and "1 of them too large" in done.stdout
    assert f"{lines}:2:" in done.stderr  # the one clear line names the file and line

    [letter] = [orjson.loads(r.value) for r in consume_all(own, own.topic_dlq, expect=1)]
    assert letter["stage"] == "parse" and "NEWSSTREAM_MAX_ARTICLE_BYTES" in letter["reason"]

    worker = start_worker(own, tmp_path / "worker.log")
    try:
        wanted = [to_record(large).key.decode(), to_record(normal).key.decode()]
        es = make_client(own)
        try:
            docs = wait_until(
                lambda: (d := get_docs(es, own.articles_alias, wanted)) and len(d) == 2 and d,
                timeout=180,
                what="the large and the normal article indexed",
            )
        finally:
            es.close()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    cut = docs[wanted[0]]
    assert cut["truncated"] is True
    assert DEFAULT_MAX_BODY_CHARS - 200 < len(cut["body"]) <= DEFAULT_MAX_BODY_CHARS
    assert docs[wanted[1]]["truncated"] is False

"""The size policy, defined once (README "Size limits").

- A raw article (one JSON Lines line, one API line, one feed item as published) is at most
  ``NEWSSTREAM_MAX_ARTICLE_BYTES``; ``parse_raw_article`` refuses a larger one.
- Every Kafka limit is derived from that setting by ``kafka_record_bytes``: the
  ``max.message.bytes`` of the topics ``newsstream setup`` creates and the largest record
  every producer (``produce``, the poller, the API, the worker) sends. One number, so a
  record a producer accepts is one its topic accepts.
- An enriched body is cut at ``NEWSSTREAM_MAX_BODY_CHARS`` (``truncated`` says so).
- A producer-supplied id is 1 to ``MAX_ID_CHARS`` characters of ``ID_PATTERN``.
"""

from __future__ import annotations

import re

# A whole news page's HTML may travel as the article (feeds with NEWSSTREAM_FEEDS_FETCH_PAGES,
# scrapers): the 181 real pages of the article-extraction benchmark are 115 KB at the
# median and 1.49 MB at the largest, three of them over Kafka's default 1 MiB. 2 MiB takes
# every one of them with room to spare and still keeps one record cheap for the broker.
DEFAULT_MAX_ARTICLE_BYTES = 2 * 1024 * 1024
# Real article bodies: BBC News at most 25,452 characters (99th percentile 5,778), the
# extraction benchmark's gold bodies at most 53,372 (99th percentile 20,477). 100,000 is
# twice the longest; NER reads about 8,000 words a second here, so a capped body costs at
# most a few seconds, and a pasted book or log file cannot hold a worker for minutes.
DEFAULT_MAX_BODY_CHARS = 100_000
# Kafka's own default (broker message.max.bytes): the limits never go below it, since the
# dead-letter topics must take a letter of up to 512 KiB of original (base64: ~700 KB).
KAFKA_DEFAULT_RECORD_BYTES = 1_048_588
# What a record needs beyond its value: the key (an id, at most 200 characters), record
# and batch headers, and the id a producer adds to a line that had none.
RECORD_OVERHEAD_BYTES = 16 * 1024
# A dead letter keeps at most this much of its original (the worker's
# streams.worker.dlq.MAX_ORIGINAL_BYTES, the same number), so a letter always fits.
DEAD_LETTER_ORIGINAL_BYTES = 512 * 1024

# Elasticsearch refuses an _id over 512 bytes; ids also travel as Kafka keys, in URL paths,
# Kibana queries and log lines, so a producer's id is kept to characters none of them
# needs to escape.
MAX_ID_CHARS = 200
ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_ID_CHARS - 1}}}")
ID_RULE = (
    f"1 to {MAX_ID_CHARS} characters of A-Z, a-z, 0-9, '.', '_', ':', '-', starting with a "
    "letter or digit"
)


def kafka_record_bytes(max_article_bytes: int) -> int:
    """``max.message.bytes`` of the pipeline's topics and every producer's largest request:
    one article of the largest size accepted, plus its key and the record's headers."""
    return max(max_article_bytes, KAFKA_DEFAULT_RECORD_BYTES) + RECORD_OVERHEAD_BYTES


def id_problem(value: object) -> str | None:
    """Why ``value`` cannot be an article id, or None when it can."""
    if isinstance(value, str) and ID_PATTERN.fullmatch(value):
        return None
    shown = repr(value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "…")
    return (
        f"field 'id', when given, must be {ID_RULE}; got {shown}. Leave it out and one is "
        "derived from the url (else the title and text)"
    )


def too_large(size: int, max_bytes: int) -> str:
    """The reason an article of ``size`` bytes is refused."""
    return (
        f"article is {size:,} bytes; at most {max_bytes:,} are accepted "
        "(NEWSSTREAM_MAX_ARTICLE_BYTES): send the page's text rather than its whole html, "
        "or raise the limit"
    )


def truncate_at_word(text: str, max_chars: int) -> tuple[str, bool]:
    """``text`` cut to at most ``max_chars`` characters at the last whitespace before the
    cut (mid-word only when the whole first ``max_chars`` are one word), and whether it was
    cut. A prefix, so offsets into the cut text are offsets into ``text``."""
    if len(text) <= max_chars:
        return text, False
    end = max_chars  # text[end] exists: the first character left out
    while end > 0 and not text[end].isspace():
        end -= 1
    return (text[:end].rstrip() or text[:max_chars]), True

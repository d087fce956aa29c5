from __future__ import annotations

from pathlib import Path

from streams.enrich import clean_html
from streams.enrich.clean import clean_text

SEED = (Path(__file__).parents[1] / "fixtures" / "seed_article.txt").read_text(encoding="utf-8")
STORY = (
    "The central bank raised interest rates on Thursday for the third time this year. "
    "Officials said inflation remained too high."
)


def test_seed_furniture_and_related_headlines_are_removed() -> None:
    cleaned = clean_text(SEED)
    lines = cleaned.body.split("\n\n")
    assert "More Articles" not in lines and "Latest" not in lines
    assert not any("Content is protected" in line for line in lines)
    assert not any(line.startswith("Tariffs of 21.9%") for line in lines)
    assert not any(line.startswith("Concerns grow over") for line in lines)


def test_seed_subheadings_quotes_and_title_are_handled() -> None:
    cleaned = clean_text(SEED)
    for heading in (
        "Trade, Sanctions, and Economic Coordination",
        "Political Trust, History, and Leadership Ties",
        "Regional Security: Japan and Taiwan",
    ):
        assert heading in cleaned.body.split("\n\n")
    assert "“highest level in history”" in cleaned.body
    assert cleaned.title == (
        "China and Russia say their partnership has reached its highest level despite sanctions"
    )
    assert not cleaned.body.startswith("China and Russia say")


def test_seed_author_bio_becomes_the_author() -> None:
    cleaned = clean_text(SEED)
    assert cleaned.author == "Tejaswini Deshmukh"
    assert "Tejaswini" not in cleaned.body
    assert "Certified Sanctions Screening Expert" not in cleaned.body


def test_byline_and_dateline() -> None:
    text = f"By Jane Smith and Tom Lee\n\nLONDON (Reuters) - {STORY}\n\nShare this article"
    cleaned = clean_text(text, title="Rates rise again")
    assert cleaned.author == "Jane Smith and Tom Lee"
    assert cleaned.dateline == "LONDON (Reuters)"
    assert cleaned.body == f"LONDON (Reuters) - {STORY}"


def test_given_title_repeated_at_the_top_is_dropped() -> None:
    cleaned = clean_text(f"Rates rise again\n\n{STORY}", title="Rates Rise Again")
    assert cleaned.body == STORY


def test_question_and_short_sentence_case_subheadings_are_kept() -> None:
    text = (
        f"{STORY}\n\nWhy the bank moved now and what comes next\n\n{STORY}\n\nWhat next\n\n{STORY}"
    )
    body = clean_text(text).body
    assert "Why the bank moved now and what comes next" in body
    assert "What next" in body


def test_html_main_text_and_metadata() -> None:
    html = (
        "<html><head><title>Rates rise again</title>"
        '<meta name="author" content="Jane Smith"></head><body>'
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>Rates rise again</h1><p>{STORY}</p><p>{STORY}</p></article>"
        "<aside>Most read: Celebrity news of the day</aside></body></html>"
    )
    cleaned = clean_html(html)
    assert STORY in cleaned.body
    assert "Home" not in cleaned.body and "Celebrity" not in cleaned.body
    assert cleaned.title == "Rates rise again"
    assert cleaned.author == "Jane Smith"

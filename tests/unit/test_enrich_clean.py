from __future__ import annotations

from pathlib import Path

import pytest
import trafilatura

from streams.enrich import clean_html
from streams.enrich.clean import PageParagraph, clean_text, not_an_article, restore_paragraphs
from streams.errors import EnrichmentError

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


HTML_FIXTURES = Path(__file__).parents[1] / "fixtures" / "html"


def _fixture(name: str) -> str:
    return (HTML_FIXTURES / name).read_text(encoding="utf-8")


def test_story_the_precision_pass_misses_is_found_by_the_recall_pass() -> None:
    html = _fixture("story_in_aside.html")
    # the precision and balanced passes see the story's box as a sidebar
    precise = trafilatura.extract(html, favor_precision=True, include_comments=False) or ""
    assert "crane collapsed" not in precise
    cleaned = clean_html(html)
    assert cleaned.body.startswith("The harbour authority closed the northern quay on Tuesday")
    assert "as early as March." in cleaned.body
    assert "Weather" not in cleaned.body
    assert cleaned.title == "Crane collapse shuts northern quay"  # without the site's name


def test_a_story_sent_as_one_html_block_is_extracted() -> None:
    other = "Markets had expected the move after strong wage figures earlier in the month."
    fragment = f"<div class='story'><div><p>{STORY}</p><p>{other}</p></div></div>"
    assert clean_html(fragment).body == f"{STORY}\n\n{other}"


def test_index_page_of_headlines_is_refused_as_an_index() -> None:
    with pytest.raises(EnrichmentError, match=r"index of links, not an article \(100% of"):
        clean_html(_fixture("index_page.html"))


def test_empty_shell_is_refused_as_rendered_by_javascript() -> None:
    with pytest.raises(EnrichmentError, match=r"no text to extract .* rendered by JavaScript"):
        clean_html(_fixture("empty_shell.html"))


def test_cookie_wall_is_refused_as_a_consent_notice() -> None:
    with pytest.raises(EnrichmentError, match="cookie or consent notice, not the article"):
        clean_html(_fixture("cookie_wall.html"))


def test_a_story_with_links_and_a_cookie_banner_is_an_article() -> None:
    banner = "We use cookies. Accept cookies to continue, or manage your cookie settings."
    html = (
        "<html><head><title>Rates rise again</title></head><body>"
        f"<div class='banner'>{banner}</div>"
        f"<article><p>{STORY} <a href='/rates'>Read about rates</a></p>"
        f"<p>{STORY}</p><p>{STORY}</p></article></body></html>"
    )
    assert not_an_article(html, clean_html(html).body) is None


def test_furniture_lines_of_news_pages_are_dropped() -> None:
    furniture = [
        "Updated at 1:23 p.m.",
        "05/10/2018 - Publicado por: Clarissa Borba - Categoria: Saúde",
        "(Reporting by Jane Smith; Editing by Tom Lee)",
        "Tom Lee contributed reporting from Hong Kong.",
        "Write to Jane Smith at jane.smith@example.com",
        "Follow Example News on Instagram, Facebook and Twitter.",
        "Get the day's top headlines delivered to your inbox by subscribing to our newsletter.",
        "- Order Reprints",
        "Like this story? Share it with a friend!",
        "Related: Five charts that explain the rate rise",
        "Download: https://example.com/podcast/615",
        "Reading time: 3 minutes",
        "Tags",
        "This copy is for your personal, non-commercial use only. To order copies, visit "
        "example.com/reprints.",
        '[button link="https://example.com/submit" type="big"] Send us your story[/button]',
    ]
    body = clean_text("\n\n".join([STORY, *furniture, STORY])).body
    assert body == f"{STORY}\n\n{STORY}"


def test_story_lines_with_times_dates_and_ellipses_are_kept() -> None:
    story = [
        "The vote was called at 10:30 on Tuesday and the result came in before noon.",
        "Kick-off 19:45",
        "Here's the thing …",
        "She said the reporting by local papers had been fair.",
    ]
    assert clean_text("\n\n".join(story)).body.split("\n\n") == story


def test_a_one_sentence_brief_is_kept() -> None:
    brief = "The northern quay has reopened after engineers inspected its cranes."
    html = f"<html><head><title>Quay reopens</title></head><body><p>{brief}</p></body></html>"
    assert clean_html(html).body == brief


def test_a_story_cut_into_chunks_comes_back_whole_without_teasers_or_furniture() -> None:
    html = _fixture("story_in_chunks.html")
    # trafilatura takes the first chunk of the story only
    plain = trafilatura.extract(html, include_comments=False) or ""
    assert "Shipping lines" not in plain
    lines = clean_html(html).body.split("\n\n")
    assert [line.split()[0] for line in lines] == ["The", "Officials", "Shipping", "The", "A"]
    assert lines[-1].endswith("as early as March.")


def test_skipped_chunks_come_back_on_a_page_that_declares_its_encoding() -> None:
    # lxml refuses a decoded page that still declares an encoding; the chunks must not be lost
    html = _fixture("story_in_chunks.html").replace("<!DOCTYPE html>", "")
    html = '<?xml version="1.0" encoding="iso-8859-1"?>' + html.replace("harbour", "harbour’s")
    body = clean_html(html).body
    assert "Shipping lines were told" in body
    assert "harbour’s authority" in body


def test_a_story_no_extraction_pass_finds_is_taken_from_its_block_of_paragraphs() -> None:
    html = _fixture("story_in_comment_block.html")
    # every trafilatura pass sees the story's box as comments (or takes the menu instead)
    precise = trafilatura.extract(html, favor_precision=True, include_comments=False) or ""
    assert "reopened on Monday" not in precise
    cleaned = clean_html(html)
    assert cleaned.body.startswith("The northern quay reopened on Monday")
    assert cleaned.body.endswith("maintenance at the port.")
    assert "Weather" not in cleaned.body


def _paragraph(text: str, classes: str = "story", links: int = 0, block: int = 0) -> PageParagraph:
    return PageParagraph(text, ("div", classes), links, block)


FIRST = "The harbour authority closed the northern quay on Tuesday after a crane collapsed."
SKIPPED = "Shipping lines were told to divert their container vessels to the southern terminal."
LAST = "A union spokesperson said members had raised concerns about maintenance in March."


def test_skipped_paragraphs_of_the_story_container_are_put_back_in_page_order() -> None:
    page = [_paragraph(FIRST), _paragraph(SKIPPED, block=1), _paragraph(LAST, block=1)]
    assert restore_paragraphs([FIRST, LAST], page) == [FIRST, SKIPPED, LAST]


def test_teasers_link_lists_and_other_containers_are_not_put_back() -> None:
    teaser = "Dredging contract awarded as the port's biggest works in a decade begin next spring."
    page = [
        _paragraph(FIRST),
        _paragraph(teaser, classes="teaser"),  # another kind of container
        _paragraph(SKIPPED, links=12),  # mostly link text
        _paragraph("Photos by the port desk."),  # too short to be prose
        _paragraph(LAST),
    ]
    assert restore_paragraphs([FIRST, LAST], page) == [FIRST, LAST]


def test_a_paragraph_kept_without_its_link_text_is_not_put_back_twice() -> None:
    with_link = f"{SKIPPED} The authority gave no date for the quay to reopen to ships."
    kept = f"{SKIPPED} The authority gave no date."
    page = [_paragraph(FIRST), _paragraph(with_link), _paragraph(LAST)]
    assert restore_paragraphs([FIRST, kept, LAST], page) == [FIRST, kept, LAST]


def test_paragraphs_of_classless_blocks_are_not_put_back() -> None:
    page = [_paragraph(FIRST, classes=""), _paragraph(SKIPPED, classes=""), _paragraph(LAST, "")]
    assert restore_paragraphs([FIRST, LAST], page) == [FIRST, LAST]

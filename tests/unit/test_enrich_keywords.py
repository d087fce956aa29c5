from __future__ import annotations

from streams.enrich.keywords import extract_keywords
from streams.tokens import tokenize

TEXT = (
    "The central bank raised interest rates again. Interest rates are now at their highest "
    "level since 2008, and the central bank said inflation would fall. Inflation hit 9% in "
    "Britain, the bank said."
)


def test_repeated_phrases_and_words_come_first_and_names_are_left_out() -> None:
    keywords = extract_keywords(tokenize(TEXT), exclude=["Britain"])
    assert keywords[:2] == ["central bank", "interest rates"]
    assert "inflation" in keywords
    assert "britain" not in keywords and "said" not in keywords


def test_limit_and_empty_text() -> None:
    assert len(extract_keywords(tokenize(TEXT), limit=2)) == 2
    assert extract_keywords(tokenize("")) == []

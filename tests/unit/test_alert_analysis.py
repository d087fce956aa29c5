"""The tokenizer reproduces Elasticsearch's standard analyzer; the stemmer groups inflections.

Expected tokens were taken from ``POST _analyze {"analyzer": "standard"}`` on
Elasticsearch 9.2.4.
"""

from __future__ import annotations

import pytest

from streams.alerts.analysis import snowball_language, standard_tokens, stem, stems


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Russia's U.S. e-mail", ["russia's", "u.s", "e", "mail"]),
        ("a:b 3.14 1,000 foo_bar x.com", ["a:b", "3.14", "1,000", "foo_bar", "x.com"]),
        ("http://x.com/a b2.b a.1", ["http", "x.com", "a", "b2", "b", "a", "1"]),
        ("İstanbul ΟΔΟΣ Straße", ["istanbul", "οδοσ", "straße"]),
        ("中国人 co\u00adop Don’t", ["中", "国", "人", "co\u00adop", "don’t"]),
        ("_ __ _foo foo_ a_1", ["_foo", "foo_", "a_1"]),
        ("1.2.3 1..2 a..b a.b. 'a'", ["1.2.3", "1", "2", "a", "b", "a.b", "a"]),
        ("U.S.-China U.S./EU Ph.D.", ["u.s", "china", "u.s", "eu", "ph.d"]),
        ("שלום צה\"ל ה'", ["שלום", 'צה"ל', "ה'"]),
        ("カタカナ ひらがな 한국어", ["カタカナ", "ひ", "ら", "が", "な", "한국어"]),
        ("😀 👍🏽 🇺🇸 ©", ["😀", "👍🏽", "🇺🇸", "©"]),
        (
            "tariffs\ttariff\ntariffless (tariff) [x]",
            ["tariffs", "tariff", "tariffless", "tariff", "x"],
        ),
    ],
)
def test_tokens_are_those_of_the_standard_analyzer(text: str, tokens: list[str]) -> None:
    assert standard_tokens(text) == tokens


def test_tokens_longer_than_255_characters_are_split() -> None:
    assert standard_tokens("a" * 300 + " ok") == ["a" * 255, "a" * 45, "ok"]


@pytest.mark.parametrize("word", ["sanction", "sanctions", "sanctioned", "Sanctioning"])
def test_inflections_share_a_stem(word: str) -> None:
    assert stem(word.lower()) == "sanction"


def test_a_longer_word_keeps_its_own_stem() -> None:
    assert stem("tariffs") == stem("tariff") != stem("tariffless")


def test_possessives_and_curly_apostrophes_stem_alike() -> None:
    assert stems("Russia’s Russia's Russia") == ["russia", "russia", "russia"]


def test_tokens_with_digits_or_dots_are_not_stemmed() -> None:
    assert stems("U.S. 1990s") == ["u.s", "1990s"]


@pytest.mark.parametrize(
    ("code", "algorithm"),
    [
        ("en", "english"),
        ("de-AT", "german"),
        ("pt_BR", "portuguese"),
        (None, "english"),
        ("xx", "english"),
    ],
)
def test_language_codes_choose_a_snowball_stemmer(code: str | None, algorithm: str) -> None:
    assert snowball_language(code) == algorithm

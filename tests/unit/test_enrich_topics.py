from __future__ import annotations

from pathlib import Path

import pytest

from streams.enrich import load_taxonomy, match_topics, parse_taxonomy
from streams.enrich.terms import TermList
from streams.errors import ConfigError
from streams.settings import Settings
from streams.tokens import tokenize

DEFAULTS = {
    "sanctions",
    "trade",
    "export-controls",
    "military",
    "diplomacy",
    "cybersecurity",
    "energy",
}


def labels(text: str, title: str = "") -> dict[str, list[str]]:
    taxonomy = load_taxonomy(Settings().taxonomy_path)
    return {
        m.label: m.evidence
        for m in match_topics(taxonomy, title=tokenize(title), body=tokenize(text))
    }


def test_default_taxonomy_has_the_default_topics() -> None:
    taxonomy = load_taxonomy(Settings().taxonomy_path)
    assert {t.label for t in taxonomy.topics} == DEFAULTS


def test_tariff_story_is_trade_with_evidence() -> None:
    text = (
        "Washington imposed new tariffs on Chinese steel imports on Monday. Beijing said it "
        "would retaliate with duties of its own and take the trade dispute to the WTO."
    )
    found = labels(text, title="US raises tariffs as trade dispute deepens")
    assert "trade" in found
    evidence = found["trade"]
    assert "tariffs" in evidence and "trade dispute" in evidence
    assert any(line.startswith("Washington imposed new tariffs") for line in evidence)


def test_ransomware_story_is_cybersecurity_not_trade() -> None:
    found = labels(
        "A ransomware gang breached the hospital network and leaked patient data. "
        "Hackers demanded payment in bitcoin.",
        title="Hospital hit by ransomware attack",
    )
    assert "cybersecurity" in found and "trade" not in found


def test_one_passing_mention_does_not_match() -> None:
    assert labels("The football club will trade its striker to a rival next season.") == {}


def test_wildcards_and_phrases() -> None:
    terms = TermList({"sanction*": 1.0, "asset freeze*": 1.0, "u.s.": 1.0})
    hits = terms.find(tokenize("U.S. sanctioned firms face asset freezes and more sanctions."))
    assert [h.term for h in hits] == ["u.s", "sanction*", "asset freeze*", "sanction*"]


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"topics": []},
        {"topics": {"x": {"terms": {}}}},
        {"topics": {"x": {"terms": {"a": "b"}}}},
    ],
)
def test_invalid_taxonomy_is_a_config_error(data: object) -> None:
    with pytest.raises(ConfigError):
        parse_taxonomy(data)


def test_missing_taxonomy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml"):
        load_taxonomy(tmp_path / "nowhere.yaml")


def test_sanctions_are_recognised_in_german_and_spanish_news() -> None:
    from streams.settings import PACKAGE_DATA

    taxonomy = load_taxonomy(PACKAGE_DATA / "watch_topics.yaml")
    german = (
        "Die EU verhängt neue Sanktionen gegen Reedereien. Die Sanktionen treten sofort in Kraft."
    )
    spanish = (
        "Estados Unidos anunció nuevas sanciones contra tres navieras. "
        "Las sanciones congelan sus activos."
    )
    for text in (german, spanish):
        matches = match_topics(taxonomy, title=tokenize(""), body=tokenize(text))
        labels = [t.label for t in matches]
        assert "sanctions" in labels, text

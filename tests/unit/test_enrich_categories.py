from __future__ import annotations

from streams.enrich import categorize, load_categories
from streams.enrich.categories import IPTC_TOP_LEVEL
from streams.tokens import tokenize


def top(title: str, text: str) -> str:
    found = categorize(load_categories(), title=tokenize(title), body=tokenize(text))
    assert found == sorted(found, key=lambda c: -c.score)
    assert all(c.label in IPTC_TOP_LEVEL for c in found)
    return found[0].label


def test_the_seventeen_iptc_labels() -> None:
    assert len(IPTC_TOP_LEVEL) == 17
    assert set(load_categories().lexicon.weights) == set(IPTC_TOP_LEVEL)


def test_sport() -> None:
    text = "The striker scored twice as the league leaders beat their rivals 3-1 in the cup."
    assert top("United win cup tie", text) == "sport"


def test_economy() -> None:
    text = (
        "Shares fell after the company reported lower profits "
        "and the central bank raised interest rates."
    )
    assert top("Profits slide", text) == "economy, business and finance"


def test_politics() -> None:
    text = (
        "The prime minister faced MPs in parliament ahead of the election; "
        "opposition parties attacked the government."
    )
    assert top("Election campaign", text) == "politics"


def test_weather_and_disaster() -> None:
    assert (
        top("Heatwave", "Temperatures hit 40 Celsius as the heatwave continued, forecasters said.")
        == "weather"
    )
    assert (
        top(
            "Quake",
            "The earthquake killed dozens and rescuers searched collapsed buildings for survivors.",
        )
        == "disaster, accident and emergency incident"
    )


def test_no_evidence_no_categories() -> None:
    assert categorize(load_categories(), title=tokenize(""), body=tokenize("Lorem ipsum.")) == []

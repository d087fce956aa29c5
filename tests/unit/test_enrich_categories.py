from __future__ import annotations

import math

import orjson
import pytest

from streams.enrich import categorize, load_categories
from streams.enrich.categories import (
    BROAD_CLASS,
    DEFAULT_CLASSIFIER,
    IPTC_TOP_LEVEL,
    CategoryClassifier,
    lexicon_shares,
    parse_classifier,
)
from streams.errors import ConfigError
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


# --- the trained classifier (streams/data/categories/classifier.json) ---


def classifier() -> CategoryClassifier:
    model = load_categories().classifier
    assert model is not None
    return model


def test_the_shipped_classifier_loads_with_its_groups() -> None:
    model = classifier()
    assert set(model.classes) <= set(IPTC_TOP_LEVEL)
    assert {"sport", "economy, business and finance", "politics"} <= set(model.classes)
    assert 0.0 <= model.model_weight <= 1.0


def test_probabilities_sum_to_one() -> None:
    prediction = classifier().predict("Oil prices rose as traders weighed the talks in Geneva")
    assert prediction is not None
    assert math.isclose(sum(prediction.probabilities.values()), 1.0, abs_tol=1e-9)
    assert all(0.0 <= p <= 1.0 for p in prediction.probabilities.values())


def test_pure_python_scores_what_training_computed() -> None:
    """The exported file records scikit-learn's probabilities for a few fixed texts."""
    data = orjson.loads(DEFAULT_CLASSIFIER.read_bytes())
    model = parse_classifier(data)
    assert len(data["checks"]) >= 3
    for check in data["checks"]:
        prediction = model.predict(check["text"])
        assert prediction is not None
        got = [prediction.probabilities[label] for label in model.classes]
        assert got == pytest.approx(check["probabilities"], abs=1e-4), check["text"]


@pytest.mark.parametrize(
    ("title", "text", "broad"),
    [
        (
            "Federer advances at Wimbledon",
            "Roger Federer beat his opponent in straight sets to reach the quarter-finals.",
            "sport",
        ),
        (
            "Oracle profit beats forecasts",
            "The software maker's quarterly earnings rose 12 percent and its stock gained.",
            "business",
        ),
        (
            "Israeli troops raid Gaza town",
            "Palestinian officials said militants and civilians were killed in the raid, "
            "as diplomats urged both sides to resume peace talks.",
            "world",
        ),
        (
            "NASA probe sends images from Saturn moon",
            "Scientists said the spacecraft's camera found signs of a methane atmosphere.",
            "sci/tech",
        ),
    ],
)
def test_short_news_items_get_their_broad_class(title: str, text: str, broad: str) -> None:
    assert BROAD_CLASS[top(title, text)] == broad


def test_labels_carry_the_words_that_led_to_them() -> None:
    found = categorize(
        load_categories(),
        title=tokenize("Striker scores twice"),
        body=tokenize("United beat Chelsea 2-1 in the Premier League on Saturday."),
    )
    assert found[0].label == "sport"
    assert found[0].evidence
    assert all(
        term in "striker scores twice united beat chelsea premier league"
        for term in found[0].evidence
    )


def test_a_model_only_text_still_gets_a_category() -> None:
    """No lexicon term at all: the classifier alone decides (short feed items)."""
    model = load_categories()
    title, body = tokenize("Fed holds rates"), tokenize("")
    assert lexicon_shares(model, title=title, body=body)[0] == {}
    found = categorize(model, title=title, body=body)
    assert found and found[0].label == "economy, business and finance"


def test_topics_the_classifier_never_saw_still_come_from_the_lexicon() -> None:
    text = "The earthquake killed dozens and rescuers searched collapsed buildings for survivors."
    found = categorize(load_categories(), title=tokenize("Quake"), body=tokenize(text))
    assert found[0].label == "disaster, accident and emergency incident"
    assert "earthquake" in found[0].evidence


def test_lexicon_alone_when_asked() -> None:
    model = load_categories(classifier=None)
    assert model.classifier is None
    found = categorize(model, title=tokenize("Election campaign"), body=tokenize("MPs voted."))
    assert found[0].label == "politics"


def test_a_malformed_classifier_is_refused_with_its_reason() -> None:
    data = orjson.loads(DEFAULT_CLASSIFIER.read_bytes())
    data["combination"]["model_weight"] = 1.5
    with pytest.raises(ConfigError, match="model_weight"):
        parse_classifier(data)
    data["terms"]["striker"] = [2.0, 0.1]
    with pytest.raises(ConfigError, match="one coefficient per class"):
        parse_classifier(data)
    with pytest.raises(ConfigError, match="newsstream-category-model"):
        parse_classifier({"format": "other"})

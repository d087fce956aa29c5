from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from streams.enrich import lexicon_scores, load_taxonomy, match_topics, parse_taxonomy
from streams.enrich.topic_model import FORMAT, TOKENIZER, features, load_model, parse_model, tokens
from streams.enrich.topics import combine
from streams.errors import ConfigError
from streams.settings import Settings
from streams.tokens import tokenize

TRADE_MODEL = Settings().taxonomy_path.parent / "topic_models" / "trade.json"

TARIFF_STORY = (
    "US raises tariffs as trade dispute deepens\n"
    "Washington imposed new tariffs on Chinese steel imports on Monday. Beijing said it "
    "would retaliate with duties of its own and take the trade dispute to the WTO."
)
SURPLUS_STORY = (
    "Japan's trade surplus widens\n"
    "Japan's trade surplus with the United States widened in March as exports of cars "
    "rose, the finance ministry said. U.S. officials urged Tokyo to open its markets."
)
FOOTBALL_STORY = (
    "City win derby\nThe home side scored twice in the second half to win the derby. "
    "The manager praised the young striker after the match."
)
BAKERY_STORY = "Bakery opens\nA new bakery opened on the high street selling bread and cakes."


def tiny_model(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": FORMAT,
        "label": "trade",
        "features": {"tokenizer": TOKENIZER, "ngram_max": 2, "sublinear_tf": True, "norm": "l2"},
        "intercept": -1.0,
        "terms": {"tariff": [2.0, 3.0], "trade war": [3.0, 4.0], "football": [1.5, -2.0]},
    }
    data.update(overrides)
    return data


def test_tokens_and_ngrams() -> None:
    assert tokens("U.S. tariffs: 25% on Japan’s cars, a trade-weighted index") == [
        "u.s",
        "tariffs",
        "on",
        "japan's",
        "cars",
        "trade-weighted",
        "index",
    ]
    assert features("Trade war looms") == ["trade", "war", "looms", "trade war", "war looms"]
    assert features("Trade war looms", ngram_max=1) == ["trade", "war", "looms"]


def test_probability_is_sublinear_tfidf_logistic_regression() -> None:
    model = parse_model(tiny_model())
    # tariff twice: (1 + log 2) * 2.0; "trade war" once: 3.0; other words are not in the model
    w_tariff, w_war = (1 + math.log(2)) * 2.0, 3.0
    norm = math.hypot(w_tariff, w_war)
    logit = -1.0 + (w_tariff * 3.0 + w_war * 4.0) / norm
    text = "A trade war: tariff after tariff."
    assert model.probability(text) == pytest.approx(1 / (1 + math.exp(-logit)))
    assert model.probability("nothing relevant here") == pytest.approx(1 / (1 + math.e))
    probability, grams = model.explain(text + " Football too.")
    assert grams == ["trade war", "tariff"]  # strongest first; "football" argues against
    assert probability < model.probability(text)


def test_n_grams_of_idf_zero_leave_the_intercept() -> None:
    model = parse_model(tiny_model(terms={"tariff": [0.0, 3.0]}))
    assert model.explain("tariff after tariff") == (pytest.approx(1 / (1 + math.e)), [])


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"format": "pickle"},
        tiny_model(features={"tokenizer": "other"}),
        tiny_model(features={"tokenizer": TOKENIZER, "sublinear_tf": False, "norm": "l2"}),
        tiny_model(terms={}),
        tiny_model(terms={"tariff": ["x", 1.0]}),
        tiny_model(intercept=None),
    ],
)
def test_invalid_model_is_a_config_error(data: object) -> None:
    with pytest.raises(ConfigError):
        parse_model(data)


def test_shipped_trade_model_loads_and_scores_known_texts() -> None:
    assert TRADE_MODEL.stat().st_size < 2_000_000
    model = load_model(TRADE_MODEL)
    assert model is load_model(TRADE_MODEL)  # loaded once
    assert model.label == "trade" and model.metrics["cv_folds"] == 5
    assert model.probability(TARIFF_STORY) > 0.8
    assert model.probability(SURPLUS_STORY) > 0.8
    assert model.probability(FOOTBALL_STORY) < 0.3
    assert model.probability(BAKERY_STORY) < 0.3


def test_combine_is_a_weighted_geometric_mean() -> None:
    assert combine(0.64, 0.81, 0.5) == pytest.approx(0.72)
    assert combine(0.7, 0.1, 0.0) == pytest.approx(0.7)
    assert combine(-0.3, 0.99, 0.45) == 0.0  # negative terms outweighing: no match
    # with model_weight <= 0.5, a lexicon score under 0.25 never reaches 0.5
    assert combine(0.24, 1.0, 0.5) < 0.5


def write_taxonomy(tmp_path: Path, trade: dict[str, Any]) -> dict[str, Any]:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny.json").write_text(json.dumps(tiny_model()), encoding="utf-8")
    return {
        "topics": {
            "trade": {"threshold": 6.0, "terms": {"tariff*": 2.0, "trade war*": 3.0}, **trade},
            "sanctions": {"threshold": 4.0, "terms": {"sanction*": 2.5, "embargo*": 2.0}},
        }
    }


def test_topic_with_model_combines_scores_and_shows_the_classifier(tmp_path: Path) -> None:
    spec = {"model": "models/tiny.json", "model_weight": 0.5}
    taxonomy = parse_taxonomy(write_taxonomy(tmp_path, spec), base_dir=tmp_path)
    trade = taxonomy.topics[0]
    assert trade.model is not None and trade.model_weight == 0.5
    title, body = tokenize("Trade war looms"), tokenize("New tariffs were announced. Tariffs hurt.")
    lexicon = lexicon_scores(taxonomy, title=title, body=body)["trade"]
    probability = trade.model.probability(
        "Trade war looms\nNew tariffs were announced. Tariffs hurt."
    )
    [match] = match_topics(taxonomy, title=title, body=body)
    assert match.label == "trade"
    assert match.score == pytest.approx(math.sqrt(lexicon * probability), abs=1e-4)
    assert f"classifier {probability:.2f}: trade war" in match.evidence
    assert match.evidence[0] == "trade war"  # the matched terms still come first
    assert any(line.startswith("New tariffs were announced") for line in match.evidence)


def test_topic_without_model_is_unchanged(tmp_path: Path) -> None:
    with_model = parse_taxonomy(
        write_taxonomy(tmp_path, {"model": "models/tiny.json"}), base_dir=tmp_path
    )
    plain = parse_taxonomy(
        {"topics": {"sanctions": {"threshold": 4.0, "terms": {"sanction*": 2.5, "embargo*": 2.0}}}}
    )
    assert plain.topics[0].model is None
    title, body = tokenize("EU extends sanctions"), tokenize("The embargo and sanctions stay.")
    [expected] = match_topics(plain, title=title, body=body)
    [found] = match_topics(with_model, title=title, body=body)
    assert found == expected
    assert not any(line.startswith("classifier") for line in found.evidence)
    raw = 2.5 * 2.0 + 2.0 * 2.0 + 3.0 * 2.5  # body terms in the lead count twice, title x3
    assert expected.score == pytest.approx(1 - 0.5 ** (raw / 4.0), abs=1e-4)


@pytest.mark.parametrize(
    "spec",
    [
        {"model": "models/missing.json"},
        {"model": 3},
        {"model": "models/tiny.json", "model_weight": 1.5},
        {"model": "models/tiny.json", "model_weight": "heavy"},
    ],
)
def test_bad_model_reference_is_a_config_error(tmp_path: Path, spec: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse_taxonomy(write_taxonomy(tmp_path, spec), base_dir=tmp_path)


def test_default_taxonomy_uses_the_trade_model() -> None:
    taxonomy = load_taxonomy(Settings().taxonomy_path)
    models = {t.label: t.model for t in taxonomy.topics if t.model is not None}
    assert set(models) == {"trade"}
    found = {
        m.label: m
        for m in match_topics(
            taxonomy,
            title=tokenize("Japan's trade surplus widens"),
            body=tokenize(SURPLUS_STORY.split("\n", 1)[1]),
        )
    }
    assert "trade" in found
    assert any(line.startswith("classifier ") for line in found["trade"].evidence)

"""The index templates ship as package data and map every field of the messages they index."""

from __future__ import annotations

import dataclasses
import types
import typing
from importlib.resources import files
from typing import Any

import pytest

from streams.alerts import FIELDS
from streams.alerts.query import FieldSpec, searchable_fields
from streams.elastic import load_template
from streams.elastic.indices import (
    TEMPLATE_DIR,
    alerts_template,
    articles_template,
    fingerprints_template,
)
from streams.errors import SinkError
from streams.messages import Alert, EnrichedArticle

# Elasticsearch types a Python field's values can be indexed as.
_COMPATIBLE: dict[type, set[str]] = {
    str: {"keyword", "text"},
    float: {"float", "double", "half_float", "scaled_float"},
    int: {"integer", "long", "short", "byte"},
    bool: {"boolean"},
}
_TIMESTAMP: set[str] = {"date"}


def model_fields(model: type, prefix: str = "") -> dict[str, type]:
    """Leaf fields of a dataclass by dotted name: lists and optionals unwrapped."""
    hints = typing.get_type_hints(model)
    fields: dict[str, type] = {}
    for field in dataclasses.fields(model):
        name, leaf = prefix + field.name, _leaf(hints[field.name])
        if dataclasses.is_dataclass(leaf):
            fields.update(model_fields(leaf, prefix=f"{name}."))
        else:
            fields[name] = leaf
    return fields


def _leaf(tp: Any) -> Any:
    """The element type an index sees: X for X | None, list[X] and tuple[X, ...]."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        (tp,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _leaf(tp)
    if origin in (list, tuple):
        (element,) = set(typing.get_args(tp)) - {Ellipsis}
        return _leaf(element)
    return tp


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Template fields by dotted name; objects by their ``properties``, not sub-fields."""
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        fields[prefix + name] = spec
        if "properties" in spec:
            fields.update(mapped_fields(spec["properties"], prefix=f"{prefix}{name}."))
    return fields


def test_templates_load_from_the_package_not_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    assert str(TEMPLATE_DIR) == str(files("streams") / "schemas" / "elasticsearch")
    for name in ("news-articles", "news-alerts", "news-fingerprints"):
        assert load_template(name)["template"]["mappings"]["dynamic"] is False
    sizes = {"shards": 1, "replicas": 0}
    assert articles_template(set(), alias="news", **sizes)["index_patterns"] == ["news-*"]
    assert alerts_template(index="al", **sizes)["index_patterns"] == ["al", "al-*"]
    assert fingerprints_template(index="fp", **sizes)["index_patterns"] == ["fp"]


TEMPLATES = ("news-articles", "news-alerts", "news-fingerprints")


@pytest.mark.parametrize("name", TEMPLATES)
def test_shipped_templates_leave_shards_and_replicas_to_the_settings(name: str) -> None:
    settings = load_template(name)["template"]["settings"]
    assert not {"number_of_shards", "number_of_replicas"} & set(settings)
    assert not any(key.startswith(("index.", "lifecycle")) for key in settings)


def built(name: str, **kwargs: Any) -> dict[str, Any]:
    builders = {
        "news-articles": lambda: articles_template(set(), alias="news", **kwargs),
        "news-alerts": lambda: alerts_template(index="al", **kwargs),
        "news-fingerprints": lambda: fingerprints_template(index="fp", **kwargs),
    }
    template: dict[str, Any] = builders[name]()
    return template


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_takes_shards_and_replicas_from_the_settings(name: str) -> None:
    for shards, replicas in ((1, 0), (3, 2)):
        settings = built(name, shards=shards, replicas=replicas)["template"]["settings"]
        assert settings["number_of_shards"] == shards
        assert settings["number_of_replicas"] == replicas
        assert settings["refresh_interval"] == "1s"
    # Built from a copy: the shipped template is not changed for the next caller.
    assert "number_of_replicas" not in load_template(name)["template"]["settings"]


def test_only_the_articles_template_names_an_ilm_policy_and_only_when_asked() -> None:
    plain = articles_template(set(), alias="news", shards=1, replicas=1)
    assert not any("lifecycle" in key for key in plain["template"]["settings"])
    managed = articles_template(set(), alias="news", shards=1, replicas=1, ilm_policy="p")
    assert managed["template"]["settings"]["index.lifecycle.name"] == "p"
    assert managed["template"]["settings"]["index.lifecycle.rollover_alias"] == "news"


def test_a_missing_template_is_a_sink_error_naming_it() -> None:
    with pytest.raises(SinkError, match="'news-nothing'"):
        load_template("news-nothing")


@pytest.mark.parametrize(
    ("model", "template"), [(EnrichedArticle, "news-articles"), (Alert, "news-alerts")]
)
def test_every_field_is_mapped_with_a_compatible_type(model: type, template: str) -> None:
    mapped = mapped_fields(load_template(template)["template"]["mappings"]["properties"])
    problems = []
    for name, leaf in model_fields(model).items():
        spec = mapped.get(name)
        allowed = _TIMESTAMP if name.endswith("_at") else _COMPATIBLE[leaf]
        if spec is None:
            problems.append(f"{name}: not mapped (dynamic is false: unsearchable)")
        elif spec.get("type") not in allowed:
            problems.append(f"{name}: {leaf.__name__} mapped as {spec.get('type')}")
    assert problems == []


def test_the_articles_template_maps_nothing_the_article_lacks() -> None:
    mapped = mapped_fields(load_template("news-articles")["template"]["mappings"]["properties"])
    fields = model_fields(EnrichedArticle)
    objects = {name.rsplit(".", 1)[0] for name in fields if "." in name}
    assert set(mapped) - set(fields) - objects == set()


def test_query_fields_come_from_the_template_and_leave_out_what_cannot_be_predicted() -> None:
    properties = load_template("news-articles")["template"]["mappings"]["properties"]
    assert searchable_fields(properties) == FIELDS
    assert searchable_fields(
        {
            "t": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 9}}},
            "n": {"properties": {"x": {"type": "double"}, "y": {"type": "long"}}},
            "when": {"type": "date"},
            "hidden": {"type": "keyword", "index": False},
            "flag": {"type": "boolean"},
            "en": {"type": "text", "analyzer": "english"},
            "lower": {"type": "keyword", "normalizer": "lowercase"},
        }
    ) == {
        "t": FieldSpec("text"),
        "t.raw": FieldSpec("keyword", path="t", ignore_above=9),
        "n.x": FieldSpec("float"),
        "n.y": FieldSpec("integer"),
        "when": FieldSpec("date"),
    }

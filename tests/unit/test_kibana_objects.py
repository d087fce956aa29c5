"""The Kibana saved objects (deploy/kibana/newsstream.ndjson) hang together and use real fields.

Kibana is not run here. What is checked instead: the file is a well-formed saved-objects
export (unique ids, every reference and dashboard panel resolvable, migration versions
Kibana 9 accepts), and every field an object uses (time field, Discover columns and sort,
KQL in searches and charts, Lens columns, field formats) is mapped in the index template
behind its data view with a type that supports the use: a terms aggregation on a text field
or a date histogram on a keyword is an empty chart in Kibana, not an error at import.

Fields are found by walking each object by type (``field_uses``); a second, generic walk
(``field_mentions``) finds every field-bearing key and KQL query anywhere, JSON-in-string
included, and a test checks the typed walk saw each of them, so a new kind of panel cannot
slip a field past the checks.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.elastic import load_template
from streams.kibana import (
    ALERTS_DATA_VIEW,
    ARTICLES_DATA_VIEW,
    DASHBOARD,
    OBJECTS_FILE,
    read_objects,
)
from streams.messages import Alert, EnrichedArticle
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_OF = {ARTICLES_DATA_VIEW: "news-articles", ALERTS_DATA_VIEW: "news-alerts"}
RECORDS = "___records___"  # Lens' pseudo-field of a document count

NUMERIC = {"integer", "long", "short", "byte", "float", "double", "half_float", "scaled_float"}
DATE = {"date", "date_nanos"}
# What each use needs of a field's mapped type (doc values for aggregations and sorting,
# an index for queries: both checked besides the type).
ALLOWED: dict[str, set[str]] = {
    "time field": DATE,
    "date_histogram": DATE,
    "terms": NUMERIC | {"keyword", "ip", "boolean"},
    "metric": NUMERIC,
    "unique_count": NUMERIC | DATE | {"keyword", "ip", "boolean"},
    "sort": NUMERIC | DATE | {"keyword", "ip", "boolean"},
    "query": NUMERIC | DATE | {"keyword", "text", "ip", "boolean"},
    "column": NUMERIC | DATE | {"keyword", "text", "ip", "boolean"},
    "format": NUMERIC | DATE | {"keyword", "text", "ip", "boolean"},
}
NEEDS_DOC_VALUES = {"time field", "date_histogram", "terms", "metric", "unique_count", "sort"}
LENS_OPERATIONS = {
    "terms": "terms",
    "date_histogram": "date_histogram",
    "unique_count": "unique_count",
    **{op: "metric" for op in ("sum", "average", "min", "max", "median", "percentile")},
}
# Keys whose value names a field, wherever they appear in a saved object.
FIELD_KEYS = {"sourceField", "timeFieldName", "fieldName", "field", "breakdownField", "sortField"}


@dataclass(frozen=True, slots=True)
class FieldUse:
    where: str  # object id and the place in it, for the failure message
    data_view: str
    field: str
    use: str  # a key of ALLOWED


# --- reading the objects and the templates ---------------------------------------------------


def load_objects() -> list[dict[str, Any]]:
    return read_objects(OBJECTS_FILE.read_bytes(), source=str(OBJECTS_FILE))


OBJECTS = load_objects()


def mapped_types(properties: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every field of a mapping by dotted name, multi-fields (``title.raw``) included."""
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        path = prefix + name
        fields[path] = {"type": "object", **spec} if "properties" in spec else spec
        fields.update(mapped_types(spec.get("properties", {}), prefix=f"{path}."))
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub}"] = sub_spec
    return fields


TEMPLATE_FIELDS = {
    view: mapped_types(load_template(name)["template"]["mappings"]["properties"])
    for view, name in TEMPLATE_OF.items()
}


def embedded_json(text: str) -> Any:
    return orjson.loads(text) if text else {}


# --- KQL --------------------------------------------------------------------------------------

_KQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_KQL_FIELD = re.compile(r"([A-Za-z_@][\w.@*-]*)\s*(?::|<=|>=|<|>)")


def kql_fields(query: str) -> set[str]:
    """The fields a KQL query names (``field : value``, ``field > value``); quoted values
    are removed first so a colon inside one is not taken for a field."""
    return set(_KQL_FIELD.findall(_KQL_STRING.sub('""', query)))


def test_kql_fields_finds_every_field_and_no_value() -> None:
    assert kql_fields('topics.label : "sanctions" and not countries:CN') == {
        "topics.label",
        "countries",
    }
    assert kql_fields('status : ("failed" or "unconfirmed")') == {"status"}
    assert kql_fields("title : tariff* or body : tariff*") == {"title", "body"}
    assert kql_fields('published_at >= "2024-03-05T10:00:00" and tariff') == {"published_at"}
    assert kql_fields('source : "a: b"') == {"source"}
    assert kql_fields("") == set()


# --- the typed walk: what each object uses, and for what ----------------------------------------


def field_uses(item: Mapping[str, Any]) -> Iterator[FieldUse]:
    kind, attributes = item["type"], item["attributes"]
    if kind == "index-pattern":
        yield from _data_view_uses(item["id"], attributes)
    elif kind == "search":
        yield from _search_uses(item["id"], attributes, _refs(item))
    elif kind == "lens":
        yield from _lens_uses(item["id"], attributes["state"], _refs(item))
    elif kind == "dashboard":
        source = embedded_json(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        # A dashboard's own query applies to every panel: it must work on both data views.
        for view in TEMPLATE_OF:
            yield from _query_uses(f"{item['id']} query", view, source.get("query"))
            yield from _filter_uses(f"{item['id']} filters", view, source.get("filter", []))
    else:
        raise AssertionError(f"{item['id']}: no field checks for saved objects of type {kind}")


def _refs(item: Mapping[str, Any]) -> dict[str, str]:
    return {ref["name"]: ref["id"] for ref in item["references"]}


def _data_view_uses(view: str, attributes: Mapping[str, Any]) -> Iterator[FieldUse]:
    yield FieldUse(f"{view} timeFieldName", view, attributes["timeFieldName"], "time field")
    for name in embedded_json(attributes.get("fieldFormatMap", "")):
        yield FieldUse(f"{view} fieldFormatMap", view, name, "format")


def _search_uses(
    search: str, attributes: Mapping[str, Any], refs: Mapping[str, str]
) -> Iterator[FieldUse]:
    source = embedded_json(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    view = refs[source["indexRefName"]]
    yield from _query_uses(f"{search} query", view, source.get("query"))
    yield from _filter_uses(f"{search} filters", view, source.get("filter", []))
    for column in attributes.get("columns", []):
        yield FieldUse(f"{search} columns", view, column, "column")
    for field, _direction in attributes.get("sort", []):
        yield FieldUse(f"{search} sort", view, field, "sort")


def _query_uses(where: str, view: str, query: Mapping[str, Any] | None) -> Iterator[FieldUse]:
    if query and query.get("language") == "kuery":
        for field in sorted(kql_fields(query["query"])):
            yield FieldUse(where, view, field, "query")
    elif query and query.get("query"):
        raise AssertionError(f"{where}: only KQL queries are checked, not {query['language']}")


def _filter_uses(where: str, view: str, filters: Sequence[Mapping[str, Any]]) -> Iterator[FieldUse]:
    for pinned in filters:
        yield FieldUse(where, view, pinned["meta"]["key"], "query")


def _lens_uses(lens: str, state: Mapping[str, Any], refs: Mapping[str, str]) -> Iterator[FieldUse]:
    layers = state["datasourceStates"]["formBased"]["layers"]
    for layer_id, layer in layers.items():
        view = refs[f"indexpattern-datasource-layer-{layer_id}"]
        # The chart's query and filters apply to each of its layers' data views.
        yield from _query_uses(f"{lens} query", view, state.get("query"))
        yield from _filter_uses(f"{lens} filters", view, state.get("filters", []))
        for column_id, column in layer["columns"].items():
            where = f"{lens} column {column_id}"
            yield from _query_uses(f"{where} filter", view, column.get("filter"))
            field, operation = column.get("sourceField"), column["operationType"]
            if operation == "count" and field == RECORDS:
                continue
            use = LENS_OPERATIONS.get(operation)
            if use is None:
                raise AssertionError(f"{where}: no field check for Lens operation {operation}")
            yield FieldUse(where, view, field, use)
            sort_field = column.get("params", {}).get("sortField")
            if sort_field:
                yield FieldUse(f"{where} sortField", view, sort_field, "sort")


def field_problems(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each field use the index template does not support, as a sentence."""
    problems = []
    for item in objects:
        for use in field_uses(item):
            problem = _problem(use)
            if problem:
                problems.append(f"{use.where}: {problem}")
    return problems


def _problem(use: FieldUse) -> str | None:
    fields = TEMPLATE_FIELDS.get(use.data_view)
    if fields is None:
        return f"data view {use.data_view!r} has no index template to check against"
    template = TEMPLATE_OF[use.data_view]
    spec = fields.get(use.field)
    if spec is None:
        return f"{use.field!r} is not a field of {template} (dynamic: false, so it never will be)"
    kind = spec.get("type", "object")
    if kind not in ALLOWED[use.use]:
        return f"{use.field!r} is {kind} in {template}: no {use.use} on it"
    if use.use in NEEDS_DOC_VALUES and spec.get("doc_values") is False:
        return f"{use.field!r} has no doc values in {template}: no {use.use} on it"
    if use.use == "query" and spec.get("index") is False:
        return f"{use.field!r} is not indexed in {template}: it cannot be queried"
    return None


# --- the generic walk: every field mentioned anywhere ------------------------------------------


def field_mentions(value: Any) -> Iterator[str]:
    """Every field named anywhere in a saved object, JSON-in-string values included."""
    if isinstance(value, Mapping):
        if value.get("language") == "kuery" and isinstance(value.get("query"), str):
            yield from kql_fields(value["query"])
        for key, inner in value.items():
            if key in FIELD_KEYS and isinstance(inner, str):
                yield inner
            elif key == "fieldFormatMap" and isinstance(inner, str):
                yield from embedded_json(inner)
            elif key == "meta" and isinstance(inner, Mapping) and "key" in inner:
                yield inner["key"]  # a pinned filter
            else:
                yield from field_mentions(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from field_mentions(inner)
    elif isinstance(value, str) and value[:1] in "[{":
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        yield from field_mentions(parsed)


# --- structure ---------------------------------------------------------------------------------


def structure_problems(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    problems = []
    present = {(item["type"], item["id"]) for item in objects}
    ids = [item["id"] for item in objects]
    problems += [f"id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for item in objects:
        for ref in item["references"]:
            if (ref["type"], ref["id"]) not in present:
                problems.append(
                    f"{item['id']}: reference {ref['name']} to a missing {ref['type']} {ref['id']}"
                )
        if item["type"] == "dashboard":
            problems += _panel_problems(item)
        if item["type"] == "lens":
            problems += _lens_problems(item)
    return problems


def _panel_problems(dashboard: Mapping[str, Any]) -> list[str]:
    problems = []
    refs = {ref["name"]: ref for ref in dashboard["references"]}
    panels = orjson.loads(dashboard["attributes"]["panelsJSON"])
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        index = panel["panelIndex"]
        ref = refs.get(f"{index}:{panel.get('panelRefName')}")
        if ref is None or ref["type"] != panel["type"]:
            problems.append(f"{dashboard['id']}: panel {index} has no {panel['type']} reference")
        grid = panel["gridData"]
        if grid["i"] != index or grid["x"] + grid["w"] > 48:
            problems.append(f"{dashboard['id']}: panel {index} is off the 48-column grid")
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if cells.setdefault((x, y), index) != index:
                    problems.append(f"{dashboard['id']}: panels {cells[x, y]} and {index} overlap")
                    break
            else:
                continue
            break
    return problems


def _lens_problems(lens: Mapping[str, Any]) -> list[str]:
    problems = []
    state = lens["attributes"]["state"]
    layers = state["datasourceStates"]["formBased"]["layers"]
    names = {ref["name"] for ref in lens["references"]}
    for layer_id, layer in layers.items():
        if f"indexpattern-datasource-layer-{layer_id}" not in names:
            problems.append(f"{lens['id']}: layer {layer_id} has no data view reference")
        if set(layer["columnOrder"]) != set(layer["columns"]):
            problems.append(f"{lens['id']}: columnOrder and columns of {layer_id} differ")
        for column_id, column in layer["columns"].items():
            order = column.get("params", {}).get("orderBy", {})
            if order.get("type") == "column" and order["columnId"] not in layer["columns"]:
                problems.append(f"{lens['id']}: {column_id} is ordered by a missing column")
    for layer in state["visualization"].get("layers", [state["visualization"]]):
        columns = layers.get(layer.get("layerId"), {}).get("columns", {})
        accessors = [
            layer.get("xAccessor"),
            layer.get("splitAccessor"),
            *layer.get("accessors", []),
        ]
        for accessor in filter(None, accessors):
            if accessor not in columns:
                problems.append(f"{lens['id']}: the chart shows a missing column {accessor}")
    return problems


# --- the tests on the shipped file -------------------------------------------------------------


def test_every_line_is_a_saved_object_in_export_format() -> None:
    lines = OBJECTS_FILE.read_bytes().splitlines()
    assert len(lines) == len(OBJECTS) >= 10
    for line, item in zip(lines, OBJECTS, strict=True):
        assert orjson.loads(line) == item
        assert {"id", "type", "attributes", "references", "coreMigrationVersion"} <= set(item)
        assert isinstance(item["attributes"].get("title"), str), item["id"]
        assert item["id"].startswith("newsstream-"), "a prefix keeps our ids apart from others'"


def test_migration_versions_are_ones_kibana_9_migrates_from() -> None:
    # Kibana refuses an object stamped newer than it knows and migrates older ones. The
    # upper bounds are versions every Kibana from 8.17 on knows (raise one only when every
    # Kibana deployed to knows the new one). Below 8.0.0 Kibana would give objects in a
    # non-default space new ids (the multi-namespace conversion): alert links use the id.
    newest = {"index-pattern": (8, 0, 0), "search": (10, 5, 0), "lens": (8, 9, 0)}
    newest["dashboard"] = (10, 2, 0)
    for item in OBJECTS:
        version = tuple(int(part) for part in item["typeMigrationVersion"].split("."))
        assert (8, 0, 0) <= version <= newest[item["type"]], item["id"]
        assert item["coreMigrationVersion"] == "8.8.0"


def test_ids_are_unique_and_every_reference_and_panel_resolves() -> None:
    assert structure_problems(OBJECTS) == []


def test_the_data_views_have_the_stable_ids_alert_links_use() -> None:
    views = {item["id"]: item["attributes"] for item in OBJECTS if item["type"] == "index-pattern"}
    assert set(views) == {ARTICLES_DATA_VIEW, ALERTS_DATA_VIEW} == set(TEMPLATE_OF)
    defaults = Settings()
    assert defaults.kibana_articles_data_view == ARTICLES_DATA_VIEW
    assert views[ARTICLES_DATA_VIEW]["title"] == defaults.articles_alias
    assert views[ALERTS_DATA_VIEW]["title"] == defaults.alerts_index


def test_the_time_fields_are_in_every_document() -> None:
    # A document without the data view's time field is invisible in Discover and on every
    # dashboard: the time fields are ones the messages always carry (not published_at,
    # which feeds may lack, nor received_at, absent from offline-enriched articles).
    views = {item["id"]: item["attributes"] for item in OBJECTS if item["type"] == "index-pattern"}
    for view, model in ((ARTICLES_DATA_VIEW, EnrichedArticle), (ALERTS_DATA_VIEW, Alert)):
        name = views[view]["timeFieldName"]
        field = {f.name: f for f in dataclasses.fields(model)}[name]
        assert field.default is dataclasses.MISSING, name
        assert type(None) not in typing.get_args(typing.get_type_hints(model)[name]), name


def test_the_dashboard_shows_topics_entities_countries_and_alerts() -> None:
    (dashboard,) = [item for item in OBJECTS if item["type"] == "dashboard"]
    assert dashboard["id"] == DASHBOARD
    shown = {ref["id"] for ref in dashboard["references"]}
    charts = {
        item["id"]: item for item in OBJECTS if item["id"] in shown and item["type"] == "lens"
    }
    fields = {
        column.get("sourceField")
        for chart in charts.values()
        for layer in chart["attributes"]["state"]["datasourceStates"]["formBased"][
            "layers"
        ].values()
        for column in layer["columns"].values()
    }
    assert {"topics.label", "entities.name", "entities.label", "countries"} <= fields
    assert {"rule_name", "status"} <= fields


def test_the_packaged_file_is_the_one_deploy_kibana_links_to() -> None:
    linked = ROOT / "deploy" / "kibana" / "newsstream.ndjson"
    assert linked.read_bytes() == OBJECTS_FILE.read_bytes()


def test_every_field_exists_in_the_template_with_a_type_that_supports_its_use() -> None:
    assert field_problems(OBJECTS) == []


def test_the_typed_walk_sees_every_field_the_objects_mention() -> None:
    for item in OBJECTS:
        seen = {use.field for use in field_uses(item)}
        mentioned = set(field_mentions(item)) - {RECORDS}
        assert mentioned <= seen, f"{item['id']}: fields not checked: {mentioned - seen}"
    uses = [use for item in OBJECTS for use in field_uses(item)]
    assert {use.use for use in uses} >= {"time field", "terms", "date_histogram", "query", "sort"}


# --- the checks catch broken objects -----------------------------------------------------------


def _edit(object_id: str, change: Any) -> list[dict[str, Any]]:
    objects = copy.deepcopy(OBJECTS)
    (item,) = [o for o in objects if o["id"] == object_id]
    change(item)
    return objects


def _lens_column(item: dict[str, Any], column_id: str) -> dict[str, Any]:
    (layer,) = item["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()
    column: dict[str, Any] = layer["columns"][column_id]
    return column


def _search_query(item: dict[str, Any], query: str) -> None:
    meta = item["attributes"]["kibanaSavedObjectMeta"]
    source = orjson.loads(meta["searchSourceJSON"])
    source["query"]["query"] = query
    meta["searchSourceJSON"] = orjson.dumps(source).decode()


BROKEN = {
    "terms on a text field": (
        "newsstream-top-entities",
        lambda o: _lens_column(o, "entity").update(sourceField="title"),
        "'title' is text in news-articles: no terms",
    ),
    "a misspelt Lens field": (
        "newsstream-articles-by-topic",
        lambda o: _lens_column(o, "topic").update(sourceField="topics.labels"),
        "'topics.labels' is not a field of news-articles",
    ),
    "a date histogram on a keyword": (
        "newsstream-articles-by-topic",
        lambda o: _lens_column(o, "date").update(sourceField="source"),
        "'source' is keyword in news-articles: no date_histogram",
    ),
    "an article field on the alerts data view": (
        "newsstream-alerts-by-rule-status",
        lambda o: _lens_column(o, "rule").update(sourceField="countries"),
        "'countries' is not a field of news-alerts",
    ),
    "a keyword time field": (
        ARTICLES_DATA_VIEW,
        lambda o: o["attributes"].update(timeFieldName="source"),
        "'source' is keyword in news-articles: no time field",
    ),
    "a misspelt field in a saved search's KQL": (
        "newsstream-sanctions",
        lambda o: _search_query(o, 'topic.label : "sanctions"'),
        "'topic.label' is not a field of news-articles",
    ),
    "sorting on a text field": (
        "newsstream-tariffs",
        lambda o: o["attributes"].update(sort=[["body", "desc"]]),
        "'body' is text in news-articles: no sort",
    ),
    "a Discover column that does not exist": (
        "newsstream-alerts-attention",
        lambda o: o["attributes"]["columns"].append("error"),
        "'error' is not a field of news-alerts",
    ),
    "a terms aggregation on a field without doc values": (
        "newsstream-top-entities",
        lambda o: _lens_column(o, "entity").update(sourceField="entities.spans"),
        "'entities.spans' has no doc values",
    ),
    "a KQL filter on a Lens column": (
        "newsstream-top-countries",
        lambda o: _lens_column(o, "count").update(filter={"query": "land:x", "language": "kuery"}),
        "'land' is not a field of news-articles",
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_field_is_caught(name: str) -> None:
    object_id, change, expected = BROKEN[name]
    problems = field_problems(_edit(object_id, change))
    assert any(expected in problem for problem in problems), problems


def test_broken_references_and_panels_are_caught() -> None:
    def dangle(item: dict[str, Any]) -> None:
        item["references"][0]["id"] = "newsstream-nothing"

    def unlink_panel(item: dict[str, Any]) -> None:
        item["references"] = item["references"][1:]

    def overlap(item: dict[str, Any]) -> None:
        panels = orjson.loads(item["attributes"]["panelsJSON"])
        panels[1]["gridData"]["x"] = panels[0]["gridData"]["x"]
        item["attributes"]["panelsJSON"] = orjson.dumps(panels).decode()

    def lose_column(item: dict[str, Any]) -> None:
        item["attributes"]["state"]["visualization"]["layers"][0]["accessors"] = ["gone"]

    cases = [
        ("newsstream-sanctions", dangle, "missing index-pattern newsstream-nothing"),
        (DASHBOARD, unlink_panel, "panel p1 has no lens reference"),
        (DASHBOARD, overlap, "overlap"),
        ("newsstream-top-countries", lose_column, "missing column gone"),
    ]
    for object_id, change, expected in cases:
        problems = structure_problems(_edit(object_id, change))
        assert any(expected in problem for problem in problems), (expected, problems)
    duplicated = [*OBJECTS, OBJECTS[0]]
    assert f"id {OBJECTS[0]['id']!r} is used twice" in structure_problems(duplicated)


def test_a_field_kind_nobody_checks_is_noticed() -> None:
    # A filters-operation column: its queries live where the typed walk does not look.
    def filters_column(item: dict[str, Any]) -> None:
        _lens_column(item, "country").update(
            operationType="filters",
            params={"filters": [{"input": {"query": "screening.list : *", "language": "kuery"}}]},
        )

    with pytest.raises(AssertionError, match="no field check for Lens operation filters"):
        field_problems(_edit("newsstream-top-countries", filters_column))
    (item,) = [
        o
        for o in _edit("newsstream-top-countries", filters_column)
        if o["type"] == "lens" and o["id"] == "newsstream-top-countries"
    ]
    assert "screening.list" in set(field_mentions(item))

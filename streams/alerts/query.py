"""Kibana query-string rules, evaluated in process the way Elasticsearch evaluates them.

An analyst writes a rule's ``query_string`` in Lucene syntax and can paste it into
Kibana Discover (language "Lucene") over ``news-articles``. Elasticsearch runs it as
``elasticsearch_query(q)``::

    {"query_string": {"query": q, "fields": ["title", "body"], "default_operator": "OR"}}

``matches_query_string(q, doc)`` decides, without Elasticsearch, whether that search
would return ``doc``, the JSON form of an EnrichedArticle. Parsing uses luqum; the
meaning follows Lucene's classic query parser as Elasticsearch configures it.

Fields: ``FIELDS`` is read from the news-articles index template
(schemas/elasticsearch/news-articles.template.json, shipped in the package), so a field
the template maps is searchable as it maps it; anything else is rejected at load. Fields
the template does not index (``entities.spans``) cannot be searched. Today that gives::

    text     title, body, topics.evidence (standard analyzer: UAX #29 words, lower-cased)
    keyword  id, url, title.raw, source, language, author, dateline, duplicate_of,
             content_hash, countries, keywords, entities.name, entities.label,
             topics.label, categories.label, screening.entity, screening.list,
             screening.entry_id, screening.entry_name, screening.programs
             (exact and case-sensitive; an array field matches if any value does;
             values longer than ignore_above are not indexed)
    float    topics.score, categories.score, screening.score (compared as 32-bit floats)
    integer  entities.count
    date     published_at, ingested_at (millisecond precision, UTC unless an offset is given)

Arrays of objects are not ``nested``: ``topics.label:sanctions AND topics.score:>0.8``
holds when any topic is sanctions and any topic scores above 0.8, as in Elasticsearch.

Supported subset:

* ``word`` (a bare term searches title and body), ``field:value``, ``field:"a phrase"``,
  ``"a phrase"~N`` (sloppy phrase, distinct words), ``_exists_:field``, ``field:*``.
  On text fields a term is analysed like the indexed text (``Tariffs`` finds ``tariffs``;
  ``e-mail`` finds ``e`` or ``mail``); on keyword fields it must equal a value exactly.
* Wildcards ``*`` and ``?`` in a term, leading ones too (``tariff*``, ``countries:C?``); on
  text fields the pattern is lower-cased and matched against single tokens, never analysed.
* ``AND``, ``OR``, ``NOT``, ``+term``, ``-term`` and ``( )`` grouping, also after a field
  (``title:(a OR b)``). Operators work as in Lucene, not as Boolean algebra: within one
  group ``AND`` makes both neighbours required, ``OR`` leaves them optional and ``NOT``
  prohibits the next clause, so ``a OR b AND c`` means ``a +b +c`` (b and c required) and
  ``a OR NOT b`` means ``a -b``. A group of only negative clauses matches every article
  that the clauses do not (``NOT a`` alone, ``x AND (NOT y)``). Use parentheses to say
  ``(a AND b) OR c``.
* Ranges on keyword, number and date fields: ``[a TO b]``, ``{a TO b}``, mixed brackets,
  ``*`` for an open end, and ``field:>x``, ``>=``, ``<``, ``<=``. Dates are ``YYYY-MM-DD``
  with an optional ``THH``, ``THH:MM``, ``THH:MM:SS`` or ``THH:MM:SS.fff`` and ``Z`` or
  ``+HH:MM``; a bound covers everything it names, as in Elasticsearch
  (``published_at:[* TO 2024-03-05]`` includes all of 5 March; ``>2024-03-05`` starts on
  the 6th; ``published_at:2024-03-05`` is the whole day).
* Words in a row with no operator between them are analysed together, as Elasticsearch
  does: on title/body that means any of the words, but ``countries:(CN RU)`` looks for
  the single keyword ``CN RU`` (write ``countries:(CN OR RU)``), and
  ``entities.name:(Sergei Shoigu)`` finds that entity.
* Boosts (``term^2``) are accepted and ignored: they change scores, not matches.

Rejected at load with a ConfigError saying why: fuzzy terms (``foo~``), regular expressions
(``/re/``), ``&&``/``||``/``!`` (write ``AND``/``OR``/``NOT``), date math (``now-1d``),
year-only or epoch-millisecond dates, ranges on text fields or the default fields,
wildcards on numbers and dates, field-name wildcards, unknown fields, an unescaped ``:``
``/`` ``!`` or ``"`` inside a term (quote the value or escape it with ``\\``), ``NOT NOT``,
a sloppy phrase that repeats a word, a range bound with a UTC offset that is not quoted
(write ``published_at:["2024-03-05T00:00:00+01:00" TO *]``), several words in a row on a
number or date field, and a query that the analyzer reduces to nothing.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse as luqum_parse

from streams.alerts.analysis import lowercase, standard_tokens
from streams.elastic import load_template
from streams.errors import ConfigError

FieldType = Literal["text", "keyword", "float", "integer", "date"]
Occur = Literal["must", "should", "must_not"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How the ``news-articles`` template maps a searchable field (see ``searchable_fields``)."""

    type: FieldType
    path: str = ""  # where the value sits in the document, when not the field name
    ignore_above: int = 0  # keyword values longer than this are not indexed


# Elasticsearch's field types, as the matcher evaluates them. Every number type it treats
# as ``float`` rounds to 32 bits, exact for ``float`` only: prefer it in the template.
_ES_TYPES: Mapping[str, FieldType] = {
    "text": "text",
    "keyword": "keyword",
    "float": "float",
    "double": "float",
    "half_float": "float",
    "scaled_float": "float",
    "integer": "integer",
    "long": "integer",
    "short": "integer",
    "byte": "integer",
    "date": "date",
}


def searchable_fields(properties: Mapping[str, Any], prefix: str = "") -> dict[str, FieldSpec]:
    """The fields of an index mapping that a rule may search, by dotted name.

    Objects' properties become ``parent.child``, multi-fields ``field.sub`` (read from
    ``field``). Left out, because the matcher could not predict Elasticsearch on them:
    fields that are not indexed (``index: false``), types it does not evaluate (boolean,
    geo_point, ...), text fields with an analyzer other than standard, and keyword
    fields with a normalizer.
    """
    fields: dict[str, FieldSpec] = {}
    for name, spec in properties.items():
        full = prefix + name
        if "properties" in spec:
            fields.update(searchable_fields(spec["properties"], prefix=f"{full}."))
            continue
        if (field := _field_spec(spec)) is not None:
            fields[full] = field
        for sub, sub_spec in spec.get("fields", {}).items():
            if (field := _field_spec(sub_spec, path=full)) is not None:
                fields[f"{full}.{sub}"] = field
    return fields


def _field_spec(spec: Mapping[str, Any], *, path: str = "") -> FieldSpec | None:
    kind = _ES_TYPES.get(spec.get("type", "object"))
    if (
        kind is None
        or not spec.get("index", True)
        or spec.get("analyzer", "standard") != "standard"
        or spec.get("search_analyzer", "standard") != "standard"
        or "normalizer" in spec
    ):
        return None
    return FieldSpec(kind, path=path, ignore_above=int(spec.get("ignore_above", 0)))


DEFAULT_FIELDS: tuple[str, ...] = ("title", "body")
FIELDS: Mapping[str, FieldSpec] = searchable_fields(
    load_template("news-articles")["template"]["mappings"]["properties"]
)
FIELD_TYPES: Mapping[str, FieldType] = {name: spec.type for name, spec in FIELDS.items()}
TEXT_POSITION_GAP = 100  # position_increment_gap between the values of a multi-valued text field


def elasticsearch_query(query: str) -> dict[str, Any]:
    """The Elasticsearch query whose hits ``matches_query_string(query, doc)`` predicts."""
    return {
        "query_string": {"query": query, "fields": list(DEFAULT_FIELDS), "default_operator": "OR"}
    }


# --- compiled queries -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermsQuery:
    """Any of ``tokens`` in any of the text ``fields``."""

    fields: tuple[str, ...]
    tokens: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class PhraseQuery:
    fields: tuple[str, ...]
    tokens: tuple[str, ...]
    slop: int
    source: str


@dataclass(frozen=True, slots=True)
class WildcardQuery:
    fields: tuple[str, ...]
    pattern: re.Pattern[str]
    source: str


@dataclass(frozen=True, slots=True)
class KeywordQuery:
    field: str
    value: str
    source: str


@dataclass(frozen=True, slots=True)
class KeywordRangeQuery:
    """Compares UTF-8 bytes, as Lucene orders keyword terms."""

    field: str
    low: str | None
    high: str | None
    include_low: bool
    include_high: bool
    source: str


@dataclass(frozen=True, slots=True)
class NumberRangeQuery:
    """Bounds and values of ``float`` fields are rounded to 32-bit floats, as stored."""

    field: str
    low: float | None
    high: float | None
    include_low: bool
    include_high: bool
    source: str


@dataclass(frozen=True, slots=True)
class DateRangeQuery:
    """Inclusive bounds in epoch milliseconds, after Elasticsearch's rounding."""

    field: str
    first_ms: int | None
    last_ms: int | None
    source: str


@dataclass(frozen=True, slots=True)
class ExistsQuery:
    fields: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Clause:
    occur: Occur
    query: QueryNode


@dataclass(frozen=True, slots=True)
class BoolQuery:
    """Lucene's BooleanQuery: every ``must``, no ``must_not`` and, without a ``must``, one
    ``should``; only ``must_not`` clauses means everything else (Elasticsearch adds
    ``*:*``)."""

    clauses: tuple[Clause, ...]


QueryNode = (
    TermsQuery
    | PhraseQuery
    | WildcardQuery
    | KeywordQuery
    | KeywordRangeQuery
    | NumberRangeQuery
    | DateRangeQuery
    | ExistsQuery
    | BoolQuery
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a query matched, and the human-readable reasons either way."""

    matched: bool
    reasons: tuple[str, ...]


# --- parsing ----------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parse_query_string(query: str) -> QueryNode:
    """Compile a query string; ConfigError says what is wrong or unsupported."""
    if not query.strip():
        raise ConfigError("query_string is empty")
    try:
        parsed = luqum_parse(query)
    except ParseError as exc:
        raise ConfigError(
            f"query_string syntax error in {query!r}: {exc} "
            '(quote values that contain ":" or spaces, e.g. dates with a time)'
        ) from exc
    compiled = _compile_group(parsed, None)
    if compiled is None:
        raise ConfigError(f"query_string {query!r} matches nothing: the analyzer drops every term")
    return compiled


def _compile_group(item: tree.Item, field: str | None) -> QueryNode | None:
    """Lucene's ``Query()``: clauses joined by conjunctions, each with an optional modifier."""
    clauses: list[Clause] = []
    for conjunction, modifier, operand in _join_multi_terms(_flatten(item)):
        if isinstance(operand, _MultiTerm):
            query = _compile_multi_term(operand, field)
        else:
            query = _compile_clause(operand, field)
        _add_clause(clauses, conjunction, modifier, query)
    if not clauses:
        return None
    if len(clauses) == 1 and clauses[0].occur != "must_not":
        return clauses[0].query
    return BoolQuery(tuple(clauses))


def _flatten(item: tree.Item) -> list[tuple[str, str, tree.Item]]:
    """Undo luqum's operator precedence: the clauses of one group, in source order."""
    if isinstance(item, tree.AndOperation | tree.OrOperation | tree.UnknownOperation):
        conjunction = {tree.AndOperation: "AND", tree.OrOperation: "OR"}.get(type(item), "")
        flat: list[tuple[str, str, tree.Item]] = []
        for index, operand in enumerate(item.operands):
            part = _flatten(operand)
            if index:
                part[0] = (conjunction, part[0][1], part[0][2])
            flat.extend(part)
        return flat
    if isinstance(item, tree.Not | tree.Prohibit | tree.Plus):
        if isinstance(item.a, tree.UnaryOperator | tree.BaseOperation):
            raise ConfigError(f"query_string: {str(item).strip()!r} stacks operators")
        return [("", "REQ" if isinstance(item, tree.Plus) else "NOT", item.a)]
    return [("", "", item)]


@dataclass(frozen=True, slots=True)
class _MultiTerm:
    words: tuple[tree.Word, ...]


def _join_multi_terms(
    flat: list[tuple[str, str, tree.Item]],
) -> list[tuple[str, str, tree.Item | _MultiTerm]]:
    """Lucene's ``MultiTerm``: plain terms in a row, with no operator between them, are
    analysed as one text (``countries:(CN RU)`` looks for the keyword ``CN RU``). A term
    joins the run only when the token after it is not ``AND``, ``OR``, ``:``, ``*``, ``^``
    or ``~``."""
    joined: list[tuple[str, str, tree.Item | _MultiTerm]] = []
    index = 0
    while index < len(flat):
        end = index + 1
        if _is_plain_term(flat[index]):
            while (
                end < len(flat)
                and _is_plain_term(flat[end])
                and _may_follow_multi_term(flat[end + 1] if end + 1 < len(flat) else None)
            ):
                end += 1
        if end - index > 1:
            words = tuple(entry[2] for entry in flat[index:end] if isinstance(entry[2], tree.Word))
            joined.append(("", "", _MultiTerm(words)))
        else:
            joined.append(flat[index])
        index = end
    return joined


def _is_plain_term(entry: tuple[str, str, tree.Item]) -> bool:
    conjunction, modifier, item = entry
    return (
        not conjunction
        and not modifier
        and isinstance(item, tree.Word)
        and not _has_wildcard(item.value)
    )


def _may_follow_multi_term(entry: tuple[str, str, tree.Item] | None) -> bool:
    if entry is None:
        return True
    conjunction, modifier, item = entry
    if conjunction:
        return False
    return bool(modifier) or not (isinstance(item, tree.Word) and item.value == "*")


def _compile_multi_term(multi: _MultiTerm, field: str | None) -> QueryNode | None:
    for word in multi.words:
        _check_term(word.value)
    raw = " ".join(word.value for word in multi.words)
    fields = DEFAULT_FIELDS if field is None else (field,)
    kind: FieldType = "text" if field is None else FIELD_TYPES[field]
    source = f"{field}:({raw})" if field else raw
    if kind in ("float", "integer", "date"):
        raise ConfigError(
            f"query_string: {source!r}: Elasticsearch reads the words as one {kind}; "
            f"write {field}:(a OR b)"
        )
    return _compile_value(_unescape(raw), fields, kind, source)


def _add_clause(
    clauses: list[Clause], conjunction: str, modifier: str, query: QueryNode | None
) -> None:
    """Lucene's ``QueryParserBase.addClause`` with the OR default operator."""
    if clauses and conjunction == "AND" and clauses[-1].occur != "must_not":
        clauses[-1] = Clause("must", clauses[-1].query)
    if query is None:  # the analyzer dropped every token; Lucene skips the clause
        return
    occur: Occur
    if modifier == "NOT":
        occur = "must_not"
    elif modifier == "REQ" or conjunction == "AND":
        occur = "must"
    else:
        occur = "should"
    clauses.append(Clause(occur, query))


def _compile_clause(item: tree.Item, field: str | None) -> QueryNode | None:
    if isinstance(item, tree.Group | tree.FieldGroup):
        return _compile_group(item.expr, field)
    if isinstance(item, tree.Boost):
        if item.implicit_force or isinstance(item.expr, tree.Boost):
            raise ConfigError(f"query_string: malformed boost {str(item)!r}")
        return _compile_clause(item.expr, field)  # boosts change scores, not matches
    if isinstance(item, tree.SearchField):
        return _compile_field(item)
    if isinstance(item, tree.Word):
        return _compile_word(item, field)
    if isinstance(item, tree.Phrase):
        return _compile_phrase(item, field, slop=0)
    if isinstance(item, tree.Proximity):
        if item._implicit_degree:
            raise ConfigError(f"query_string: give the slop of {str(item)!r} as a number (~2)")
        return _compile_phrase(item.term, field, slop=int(item.degree), shown=str(item))
    if isinstance(item, tree.Range | tree.From | tree.To):
        return _compile_range(item, field)
    if isinstance(item, tree.Fuzzy):
        raise ConfigError(
            f"query_string: fuzzy term {str(item)!r} is not supported; "
            "use a wildcard (tariff*) or list the spellings"
        )
    if isinstance(item, tree.Regex):
        raise ConfigError(f"query_string: regular expression {str(item)!r} is not supported")
    raise ConfigError(f"query_string: unsupported construct {str(item).strip()!r}")


def _compile_field(item: tree.SearchField) -> QueryNode | None:
    expr = item.expr
    if item.name == "_exists_":
        name = expr.value if isinstance(expr, tree.Word) else str(expr)
        _check_field(name)
        return ExistsQuery((name,), f"_exists_:{name}")
    _check_field(item.name)
    if isinstance(expr, tree.SearchField):
        raise ConfigError(
            f"query_string: {str(item).strip()!r} has more than one ':'; "
            "quote the value or escape ':' as \\:"
        )
    if not isinstance(
        expr,
        tree.Word | tree.Phrase | tree.Proximity | tree.Range | tree.From | tree.To
        | tree.Group | tree.FieldGroup | tree.Boost | tree.Fuzzy | tree.Regex,
    ):  # fmt: skip
        raise ConfigError(
            f"query_string: {str(item).strip()!r}: after 'field:' put a term, a phrase, "
            "a range or a (group)"
        )
    return _compile_clause(expr, item.name)


def _check_field(name: str) -> FieldType:
    if name not in FIELD_TYPES:
        raise ConfigError(
            f"query_string: unknown field {name!r}; searchable fields are " + ", ".join(FIELD_TYPES)
        )
    return FIELD_TYPES[name]


def _compile_word(word: tree.Word, field: str | None) -> QueryNode | None:
    raw = word.value
    _check_term(raw)
    fields = DEFAULT_FIELDS if field is None else (field,)
    kind: FieldType = "text" if field is None else FIELD_TYPES[field]
    source = f"{field}:{raw}" if field else raw
    if raw == "*":
        return ExistsQuery(fields, source)
    if _has_wildcard(raw):
        if kind not in ("text", "keyword"):
            raise ConfigError(
                f"query_string: {source!r}: wildcards work on text and keyword fields only"
            )
        pattern = _wildcard_pattern(lowercase(raw) if kind == "text" else raw)
        return WildcardQuery(fields, pattern, source)
    return _compile_value(_unescape(raw), fields, kind, source)


def _compile_phrase(
    phrase: tree.Item, field: str | None, *, slop: int, shown: str = ""
) -> QueryNode | None:
    if not isinstance(phrase, tree.Phrase):
        raise ConfigError(f"query_string: unsupported construct {str(phrase)!r}")
    fields = DEFAULT_FIELDS if field is None else (field,)
    kind: FieldType = "text" if field is None else FIELD_TYPES[field]
    shown = shown or phrase.value
    source = f"{field}:{shown}" if field else shown
    text = _unescape(phrase.value[1:-1])
    if kind != "text":
        return _compile_value(text, fields, kind, source)
    tokens = tuple(standard_tokens(text))
    if len(tokens) <= 1:
        return TermsQuery(fields, tokens, source) if tokens else None
    if slop and len(set(tokens)) < len(tokens):
        raise ConfigError(f"query_string: sloppy phrase {source!r} repeats a word; not supported")
    return PhraseQuery(fields, tokens, slop, source)


def _compile_value(
    value: str, fields: tuple[str, ...], kind: FieldType, source: str
) -> QueryNode | None:
    if kind == "text":
        tokens = tuple(dict.fromkeys(standard_tokens(value)))
        return TermsQuery(fields, tokens, source) if tokens else None
    (field,) = fields
    if kind == "keyword":
        return KeywordQuery(field, value, source)
    if kind in ("float", "integer"):
        number = _parse_number(value, source, kind)
        return NumberRangeQuery(field, number, number, True, True, source)
    first, last = _date_span(value, source)
    return DateRangeQuery(field, first, last, source)


def _compile_range(item: tree.Range | tree.From | tree.To, field: str | None) -> QueryNode:
    source = f"{field}:{item}" if field else str(item)
    kind = "text" if field is None else FIELD_TYPES[field]
    if field is None or kind == "text":
        raise ConfigError(
            f"query_string: range {source!r} needs a keyword, number or date field "
            "(ranges over title/body compare raw terms)"
        )
    if isinstance(item, tree.Range):
        low, high = _bound(item.low, source), _bound(item.high, source)
        include_low, include_high = bool(item.include_low), bool(item.include_high)
    else:
        if isinstance(item.a, tree.Phrase) or "\n" in item.a.head or " " in item.a.head:
            raise ConfigError(
                f"query_string: write {source!r} as field:>value without spaces or quotes"
            )
        _check_term(item.a.value)
        value = _bound(item.a, source)
        if isinstance(item, tree.From):
            low, high, include_low, include_high = value, None, bool(item.include), True
        else:
            low, high, include_low, include_high = None, value, True, bool(item.include)
    if kind == "keyword":
        return KeywordRangeQuery(field, low, high, include_low, include_high, source)
    if kind in ("float", "integer"):
        return NumberRangeQuery(
            field,
            None if low is None else _parse_number(low, source, kind),
            None if high is None else _parse_number(high, source, kind),
            include_low,
            include_high,
            source,
        )
    first = last = None
    if low is not None:
        start, end = _date_span(low, source)
        first = start if include_low else end + 1
    if high is not None:
        start, end = _date_span(high, source)
        last = end if include_high else start - 1
    return DateRangeQuery(field, first, last, source)


def _bound(item: tree.Item, source: str) -> str | None:
    if isinstance(item, tree.Phrase):
        return _unescape(item.value[1:-1])
    if isinstance(item, tree.Word):
        return None if item.value == "*" else _unescape(item.value)
    raise ConfigError(f"query_string: unsupported range bound in {source!r}")


_SPECIAL_IN_TERM = {
    "!": "write NOT instead of !",
    "/": "escape it as \\/ or quote the value (a / starts a regular expression)",
    ":": "quote the value or escape it as \\:",
    '"': 'escape it as \\"',
}


def _check_term(raw: str) -> None:
    if raw in ("&&", "||"):
        raise ConfigError(f"query_string: write {'AND' if raw == '&&' else 'OR'} instead of {raw}")
    for char in _unescaped_chars(raw):
        if char in _SPECIAL_IN_TERM:
            raise ConfigError(
                f"query_string: term {raw!r} contains {char!r}: {_SPECIAL_IN_TERM[char]}"
            )


def _unescaped_chars(raw: str) -> Iterator[str]:
    escaped = False
    for char in raw:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            yield char


def _has_wildcard(raw: str) -> bool:
    return any(char in "*?" for char in _unescaped_chars(raw))


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw, flags=re.DOTALL)


def _wildcard_pattern(raw: str) -> re.Pattern[str]:
    parts: list[str] = []
    escaped = False
    for char in raw:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _parse_number(value: str, source: str, kind: FieldType) -> float:
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", value):
            raise ConfigError(f"query_string: {value!r} in {source!r} is not a whole number")
        return float(int(value))
    if not _NUMBER.fullmatch(value):
        raise ConfigError(f"query_string: {value!r} in {source!r} is not a number")
    return float32(float(value))


def float32(value: float) -> float:
    """Round to the nearest 32-bit float, as Elasticsearch's ``float`` fields store numbers."""
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?"
)
_MS_PER_UNIT = {"d": 86_400_000, "h": 3_600_000, "mi": 60_000, "s": 1_000}


def _date_span(value: str, source: str) -> tuple[int, int]:
    """The first and last millisecond a date in a query names (``2024-03-05`` = the day)."""
    match = _DATE.fullmatch(value)
    if not match or match["d"] is None:
        raise ConfigError(
            f"query_string: {value!r} in {source!r} is not a supported date; write "
            "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS with an optional Z or +HH:MM (no date math)"
        )
    try:
        start = _epoch_ms(match)
    except ValueError as exc:
        raise ConfigError(f"query_string: {value!r} in {source!r} is not a valid date") from exc
    if match["f"] is not None:
        return start, start
    smallest = next(unit for unit in ("s", "mi", "h", "d") if unit == "d" or match[unit])
    return start, start + _MS_PER_UNIT[smallest] - 1


def _epoch_ms(match: re.Match[str]) -> int:
    tz = match["tz"]
    zone = UTC
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))
    moment = datetime(
        int(match["y"]),
        int(match["mo"] or 1),
        int(match["d"] or 1),
        int(match["h"] or 0),
        int(match["mi"] or 0),
        int(match["s"] or 0),
        tzinfo=zone,
    )
    millis = int((match["f"] or "0")[:3].ljust(3, "0"))
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + millis


def parse_document_date(value: object) -> int | None:
    """Epoch milliseconds of a date as Elasticsearch indexes it (strict_date_optional_time
    or epoch_millis); None if it would not be accepted."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    if re.fullmatch(r"-?\d+", value) and len(value) != 4:
        return int(value)
    match = _DATE.fullmatch(value)
    if not match:
        return None
    try:
        return _epoch_ms(match)
    except ValueError:
        return None


# --- evaluation -------------------------------------------------------------------------


class DocView:
    """An article's JSON document, with each field's indexed form computed once."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self._doc = doc
        self._values: dict[str, tuple[Any, ...]] = {}
        self._positions: dict[str, dict[str, list[int]]] = {}

    def values(self, field: str) -> tuple[Any, ...]:
        """The non-null values a field takes from the document (arrays flattened)."""
        if field not in self._values:
            path = FIELDS[field].path or field if field in FIELDS else field
            self._values[field] = tuple(_path_values(self._doc, path.split(".")))
        return self._values[field]

    def positions(self, field: str) -> dict[str, list[int]]:
        """Token -> positions, for a text field."""
        if field not in self._positions:
            table: dict[str, list[int]] = {}
            offset = 0
            for value in self.values(field):
                tokens = standard_tokens(value) if isinstance(value, str) else []
                for index, token in enumerate(tokens):
                    table.setdefault(token, []).append(offset + index)
                offset += len(tokens) + TEXT_POSITION_GAP
            self._positions[field] = table
        return self._positions[field]

    def keywords(self, field: str) -> tuple[str, ...]:
        """Indexed keyword terms; values beyond ``ignore_above`` are not indexed."""
        limit = FIELDS[field].ignore_above if field in FIELDS else 0
        texts = (_keyword_text(value) for value in self.values(field))
        return tuple(text for text in texts if not limit or _utf16_length(text) <= limit)

    def numbers(self, field: str) -> tuple[float, ...]:
        """Indexed numbers: 32-bit floats for ``float`` fields, whole numbers for ``integer``."""
        convert = float32 if FIELD_TYPES.get(field) == "float" else float
        return tuple(
            convert(float(value))
            for value in self.values(field)
            if isinstance(value, int | float) and not isinstance(value, bool)
        )

    def exists(self, field: str) -> bool:
        kind = FIELD_TYPES.get(field)
        if kind == "text":
            return any(isinstance(value, str) for value in self.values(field))
        if kind == "keyword":
            return bool(self.keywords(field))
        if kind == "date":
            return any(parse_document_date(value) is not None for value in self.values(field))
        return bool(self.numbers(field))


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _path_values(value: Any, parts: Sequence[str]) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _path_values(item, parts)
    elif not parts:
        if value is not None:
            yield value
    elif isinstance(value, Mapping):
        yield from _path_values(value.get(parts[0]), parts[1:])


def _keyword_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def matches_query_string(query: str, article_doc: Mapping[str, Any]) -> bool:
    """Would Elasticsearch's ``elasticsearch_query(query)`` return ``article_doc``?"""
    return matches(parse_query_string(query), DocView(article_doc))


def explain_query_string(query: str, article_doc: Mapping[str, Any]) -> Outcome:
    return evaluate(parse_query_string(query), DocView(article_doc))


def matches(query: QueryNode, doc: DocView) -> bool:
    """``evaluate(query, doc).matched``, without the reasons: alert rules that do not fire
    need none, and most rules do not fire on most articles. Stops at the first clause
    that decides."""
    if isinstance(query, BoolQuery):
        return _bool_matches(query, doc)
    if isinstance(query, TermsQuery):
        return any(
            token in doc.positions(field) for field in query.fields for token in query.tokens
        )
    if isinstance(query, PhraseQuery):
        return any(_phrase_in(query, field, doc) for field in query.fields)
    if isinstance(query, WildcardQuery):
        return any(
            query.pattern.fullmatch(candidate)
            for field in query.fields
            for candidate in _wildcard_candidates(field, doc)
        )
    if isinstance(query, KeywordQuery):
        return query.value in doc.keywords(query.field)
    if isinstance(query, KeywordRangeQuery):
        low = None if query.low is None else query.low.encode()
        high = None if query.high is None else query.high.encode()
        return any(
            _within(value.encode(), low, high, query.include_low, query.include_high)
            for value in doc.keywords(query.field)
        )
    if isinstance(query, NumberRangeQuery):
        return any(
            _within(value, query.low, query.high, query.include_low, query.include_high)
            for value in doc.numbers(query.field)
        )
    if isinstance(query, DateRangeQuery):
        return any(
            millis is not None and _within(millis, query.first_ms, query.last_ms, True, True)
            for millis in map(parse_document_date, doc.values(query.field))
        )
    return any(doc.exists(field) for field in query.fields)


def _bool_matches(query: BoolQuery, doc: DocView) -> bool:
    """``_evaluate_bool``'s verdict: every must, no must_not, and a should when no must."""
    needs_should = not any(c.occur == "must" for c in query.clauses) and any(
        c.occur == "should" for c in query.clauses
    )
    should_hit = False
    for clause in query.clauses:
        if clause.occur == "should":
            if needs_should and not should_hit:
                should_hit = matches(clause.query, doc)
        elif matches(clause.query, doc) != (clause.occur == "must"):
            return False  # a must missing, or a must_not present
    return should_hit or not needs_should


def _phrase_in(query: PhraseQuery, field: str, doc: DocView) -> bool:
    positions = doc.positions(field)
    lists = [positions.get(token, []) for token in query.tokens]
    return all(lists) and _phrase_distance(lists) <= query.slop


def _wildcard_candidates(field: str, doc: DocView) -> Iterable[str]:
    return doc.positions(field) if FIELD_TYPES[field] == "text" else doc.keywords(field)


def evaluate(query: QueryNode, doc: DocView) -> Outcome:
    """Match one compiled query against one document, saying why."""
    if isinstance(query, BoolQuery):
        return _evaluate_bool(query, doc)
    if isinstance(query, TermsQuery):
        return _evaluate_terms(query, doc)
    if isinstance(query, PhraseQuery):
        return _evaluate_phrase(query, doc)
    if isinstance(query, WildcardQuery):
        return _evaluate_wildcard(query, doc)
    if isinstance(query, KeywordQuery):
        values = doc.keywords(query.field)
        if query.value in values:
            return Outcome(True, (query.source,))
        return Outcome(False, (f"{query.source}: {_listing(query.field, values)}",))
    if isinstance(query, KeywordRangeQuery):
        return _evaluate_keyword_range(query, doc)
    if isinstance(query, NumberRangeQuery):
        return _evaluate_number_range(query, doc)
    if isinstance(query, DateRangeQuery):
        return _evaluate_date_range(query, doc)
    present = [field for field in query.fields if doc.exists(field)]
    if present:
        return Outcome(True, (f"{query.source}: {present[0]} is set",))
    return Outcome(False, (f"{query.source}: {'/'.join(query.fields)} not set",))


def _evaluate_bool(query: BoolQuery, doc: DocView) -> Outcome:
    results = [(clause.occur, evaluate(clause.query, doc)) for clause in query.clauses]
    musts = [outcome for occur, outcome in results if occur == "must"]
    shoulds = [outcome for occur, outcome in results if occur == "should"]
    excluded = [outcome for occur, outcome in results if occur == "must_not" and outcome.matched]
    missing = [outcome for outcome in musts if not outcome.matched]
    hits = [outcome for outcome in shoulds if outcome.matched]
    needs_should = not musts and bool(shoulds)
    if not missing and not excluded and (hits or not needs_should):
        return Outcome(True, _reasons(musts + hits))
    why = list(_reasons(missing))
    why += [f"excluded by NOT {reason}" for reason in _reasons(excluded)]
    if needs_should and not hits:
        why.append("none of: " + "; ".join(_reasons(shoulds)))
    return Outcome(False, tuple(why))


def _reasons(outcomes: Sequence[Outcome]) -> tuple[str, ...]:
    return tuple(reason for outcome in outcomes for reason in outcome.reasons)


def _evaluate_terms(query: TermsQuery, doc: DocView) -> Outcome:
    for field in query.fields:
        positions = doc.positions(field)
        for token in query.tokens:
            if token in positions:
                return Outcome(True, (f'{query.source}: "{token}" in {field}',))
    return Outcome(False, (f"{query.source}: not in {'/'.join(query.fields)}",))


def _evaluate_phrase(query: PhraseQuery, doc: DocView) -> Outcome:
    for field in query.fields:
        if _phrase_in(query, field, doc):
            return Outcome(True, (f"{query.source} in {field}",))
    return Outcome(False, (f"{query.source}: not in {'/'.join(query.fields)}",))


def _phrase_distance(lists: Sequence[Sequence[int]]) -> int:
    """Lucene's sloppy-phrase match length: the smallest spread of ``position - offset``."""
    shifted = [
        sorted(position - offset for position in plist) for offset, plist in enumerate(lists)
    ]
    pointers = [0] * len(shifted)
    best = -1
    while True:
        current = [values[pointer] for values, pointer in zip(shifted, pointers, strict=True)]
        spread = max(current) - min(current)
        best = spread if best < 0 else min(best, spread)
        lowest = current.index(min(current))
        pointers[lowest] += 1
        if best == 0 or pointers[lowest] == len(shifted[lowest]):
            return best


def _evaluate_wildcard(query: WildcardQuery, doc: DocView) -> Outcome:
    for field in query.fields:
        for candidate in _wildcard_candidates(field, doc):
            if query.pattern.fullmatch(candidate):
                return Outcome(True, (f'{query.source}: "{candidate}" in {field}',))
    return Outcome(False, (f"{query.source}: nothing in {'/'.join(query.fields)} matches",))


def _evaluate_keyword_range(query: KeywordRangeQuery, doc: DocView) -> Outcome:
    low = None if query.low is None else query.low.encode()
    high = None if query.high is None else query.high.encode()
    values = doc.keywords(query.field)
    for value in values:
        key = value.encode()
        if _within(key, low, high, query.include_low, query.include_high):
            return Outcome(True, (f"{query.source}: {value}",))
    return Outcome(False, (f"{query.source}: {_listing(query.field, values)}",))


def _evaluate_number_range(query: NumberRangeQuery, doc: DocView) -> Outcome:
    values = doc.numbers(query.field)
    for value in values:
        if _within(value, query.low, query.high, query.include_low, query.include_high):
            return Outcome(True, (f"{query.source}: {value:g}",))
    shown = [f"{value:g}" for value in values]
    return Outcome(False, (f"{query.source}: {_listing(query.field, shown)}",))


def _evaluate_date_range(query: DateRangeQuery, doc: DocView) -> Outcome:
    for raw in doc.values(query.field):
        millis = parse_document_date(raw)
        if millis is not None and _within(millis, query.first_ms, query.last_ms, True, True):
            return Outcome(True, (f"{query.source}: {raw}",))
    return Outcome(False, (f"{query.source}: {_listing(query.field, doc.values(query.field))}",))


def _within(value: Any, low: Any, high: Any, include_low: bool, include_high: bool) -> bool:
    if low is not None and (value < low or (value == low and not include_low)):
        return False
    return not (high is not None and (value > high or (value == high and not include_high)))


def _listing(field: str, values: Sequence[Any]) -> str:
    if not values:
        return f"{field} is empty"
    shown = ", ".join(str(value) for value in values[:8])
    more = f" (+{len(values) - 8} more)" if len(values) > 8 else ""
    return f"{field} is [{shown}{more}]"

"""Kibana for analysts: the packaged saved objects and ``newsstream kibana import``.

The objects (two data views, saved searches, Lens charts and a dashboard) are one NDJSON
file in Kibana's saved-objects export format, shipped in the package
(``streams/data/kibana/newsstream.ndjson``; ``deploy/kibana/`` links to it) so a
``pip install`` or the container image has it. Every object has a fixed id, and the import
asks Kibana to overwrite: running it again updates the objects in place, and alert links
that name the articles data view keep working.

The import goes through Kibana's saved-objects API (``POST /api/saved_objects/_import``),
which runs Kibana's own migrations on the objects, so the file can stay in the format of
an older 8.x/9.x export. Parsing, the data view titles and the reading of Kibana's answer
are pure functions; only :func:`post_import` does I/O.
"""

from __future__ import annotations

import base64
import ssl
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import orjson

from streams.errors import ConfigError, KibanaError
from streams.settings import KIBANA_ARTICLES_DATA_VIEW, Settings

OBJECTS_FILE: Traversable = files("streams") / "data" / "kibana" / "newsstream.ndjson"
ARTICLES_DATA_VIEW: Final = KIBANA_ARTICLES_DATA_VIEW
ALERTS_DATA_VIEW: Final = "newsstream-alerts"
DASHBOARD: Final = "newsstream-overview"
TIMEOUT_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """The Authorization header for Kibana, and which settings it came from (for messages)."""

    headers: Mapping[str, str]
    source: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    base_url: str  # Kibana, with /s/<space> when one was asked for
    imported: Mapping[str, int]  # saved-object type -> how many Kibana wrote
    # id in the file -> the id Kibana gave instead: it does so when another space already
    # has an object with that id (ids are unique across spaces).
    new_ids: Mapping[str, str] = field(default_factory=dict)


def read_objects(data: bytes, *, source: str) -> list[dict[str, Any]]:
    """The saved objects of an NDJSON export, in file order.

    Blank lines and the summary line Kibana appends to an export (``exportedCount``, no
    ``type``) are skipped, so a file exported from Kibana can be used as it is.
    """
    objects = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{source}, line {number}: not JSON ({exc})") from exc
        if not isinstance(item, dict):
            raise ConfigError(f"{source}, line {number}: not a saved object")
        if "exportedCount" in item and "type" not in item:
            continue
        if not isinstance(item.get("type"), str) or not isinstance(item.get("id"), str):
            raise ConfigError(f"{source}, line {number}: a saved object needs a type and an id")
        objects.append(item)
    if not objects:
        raise ConfigError(f"{source}: no saved objects")
    return objects


def with_index_names(
    objects: Iterable[Mapping[str, Any]], *, articles: str, alerts: str
) -> list[dict[str, Any]]:
    """The objects with the two data views pointed at the configured alias and index.

    The file names the defaults (``news-articles``, ``news-alerts``); a deployment that
    renames them with NEWSSTREAM_ARTICLES_ALIAS / NEWSSTREAM_ALERTS_INDEX gets data views
    that match. Other objects refer to the data views by id and need no change.
    """
    titles = {ARTICLES_DATA_VIEW: articles, ALERTS_DATA_VIEW: alerts}
    result = []
    for item in objects:
        changed = dict(item)
        if item.get("type") == "index-pattern" and item.get("id") in titles:
            changed["attributes"] = {**item.get("attributes", {}), "title": titles[item["id"]]}
        result.append(changed)
    return result


def to_ndjson(objects: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in objects)


def base_url(kibana_url: str, space: str | None) -> str:
    """Kibana's base URL, in a space when one is named (``/s/<space>``)."""
    base = kibana_url.rstrip("/")
    return f"{base}/s/{quote(space, safe='')}" if space else base


def credentials(settings: Settings) -> Credentials:
    """Kibana's own credentials if set, else Elasticsearch's, else none.

    Kibana authenticates against Elasticsearch, so the Elasticsearch user or API key works
    when it has Kibana privileges; a user of its own for Kibana keeps the worker's
    credentials to index privileges only.
    """
    if settings.kibana_api_key:
        return _api_key(str(settings.kibana_api_key), "NEWSSTREAM_KIBANA_API_KEY")
    if settings.kibana_username:
        return _basic(settings.kibana_username, str(settings.kibana_password), "KIBANA")
    if settings.es_api_key:
        return _api_key(str(settings.es_api_key), "NEWSSTREAM_ES_API_KEY")
    if settings.es_username:
        return _basic(settings.es_username, str(settings.es_password), "ES")
    return Credentials({}, "no credentials")


def _api_key(key: str, setting: str) -> Credentials:
    return Credentials({"Authorization": f"ApiKey {key}"}, setting)


def _basic(username: str, password: str, service: str) -> Credentials:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return Credentials(
        {"Authorization": f"Basic {token}"},
        f"NEWSSTREAM_{service}_USERNAME / NEWSSTREAM_{service}_PASSWORD (user {username!r})",
    )


def tls_verify(settings: Settings) -> ssl.SSLContext | bool:
    """Verify Kibana's certificate against NEWSSTREAM_KIBANA_CA_CERTS, else the system's CAs."""
    if not settings.kibana_ca_certs:
        return True
    try:
        return ssl.create_default_context(cafile=settings.kibana_ca_certs)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"NEWSSTREAM_KIBANA_CA_CERTS={settings.kibana_ca_certs!r}: cannot read it as a "
            f"PEM CA certificate ({exc})"
        ) from exc


def post_import(
    base: str,
    body: bytes,
    *,
    auth: Credentials,
    verify: ssl.SSLContext | bool,
    timeout: float = TIMEOUT_SECONDS,
) -> httpx.Response:
    """Upload an NDJSON file to Kibana's import API, overwriting objects with the same ids."""
    headers = {"kbn-xsrf": "true", **auth.headers}  # Kibana refuses API writes without kbn-xsrf
    try:
        return httpx.post(
            f"{base}/api/saved_objects/_import",
            params={"overwrite": "true"},
            files={"file": ("newsstream.ndjson", body, "application/ndjson")},
            headers=headers,
            verify=verify,
            timeout=timeout,
        )
    except httpx.ConnectError as exc:
        if _caused_by_tls(exc):
            raise KibanaError(
                f"TLS with Kibana at {base} failed ({exc}): for an untrusted certificate set "
                "NEWSSTREAM_KIBANA_CA_CERTS to its CA (ECK: the ca.crt of the secret "
                "<name>-kb-http-certs-public); for a Kibana without TLS use an http:// URL"
            ) from exc
        raise KibanaError(
            f"cannot reach Kibana at {base} ({exc}); is it running? check NEWSSTREAM_KIBANA_URL"
        ) from exc
    except httpx.TimeoutException as exc:
        raise KibanaError(
            f"Kibana at {base} did not answer within {timeout:.0f} s; is it still starting?"
        ) from exc
    except httpx.HTTPError as exc:
        raise KibanaError(f"the import request to Kibana at {base} failed: {exc}") from exc


def _caused_by_tls(exc: BaseException) -> bool:
    """Whether a connection failed on the TLS handshake (httpx wraps httpcore wraps ssl)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def read_answer(
    status: int, body: bytes, *, base: str, space: str | None, auth: Credentials
) -> ImportReport:
    """What Kibana's answer to an import means; KibanaError naming what to fix if it failed.

    Kibana answers 200 also when it refused some objects: then ``success`` is false and
    ``errors`` says which and why.
    """
    answer = _json(body)
    if status == 401:
        raise KibanaError(
            f"Kibana at {base} refused our credentials (401, used: {auth.source}): set "
            "NEWSSTREAM_KIBANA_API_KEY, or NEWSSTREAM_KIBANA_USERNAME and "
            "NEWSSTREAM_KIBANA_PASSWORD (without them the Elasticsearch credentials are used)"
        )
    if status == 403:
        raise KibanaError(
            f"Kibana at {base} forbids the import (403: {_message(answer, body)}; used: "
            f"{auth.source}): the user needs the Kibana privilege to manage saved objects "
            "(Saved Objects Management, or Discover, Dashboard and Visualize Library: All) "
            f"in the space {space or 'default'}"
        )
    if status == 404:
        where = f"no Kibana space {space!r} (create it or leave out --space), or " if space else ""
        raise KibanaError(
            f"Kibana at {base} answered 404: {where}NEWSSTREAM_KIBANA_URL is not Kibana's base URL"
        )
    if status != 200 or not isinstance(answer, dict):
        raise KibanaError(f"Kibana at {base} answered {status}: {_message(answer, body)}")
    if answer.get("success") is not True:
        raise KibanaError(_refused(answer, base))
    results = answer.get("successResults") or []
    imported = Counter(str(r.get("type")) for r in results if isinstance(r, dict))
    if not imported and answer.get("successCount"):
        imported = Counter({"saved object": int(answer["successCount"])})
    new_ids = {
        str(r["id"]): str(r["destinationId"])
        for r in results
        if isinstance(r, dict) and r.get("destinationId") not in (None, r.get("id"))
    }
    return ImportReport(base_url=base, imported=dict(imported), new_ids=new_ids)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _message(answer: Any, body: bytes) -> str:
    if isinstance(answer, dict) and answer.get("message"):
        return str(answer["message"])
    return body.decode("utf-8", "replace").strip()[:300] or "(empty answer)"


def _refused(answer: Mapping[str, Any], base: str) -> str:
    errors = [e for e in answer.get("errors") or [] if isinstance(e, dict)]
    details = "; ".join(_object_error(e) for e in errors[:10])
    more = f"; and {len(errors) - 10} more" if len(errors) > 10 else ""
    done = answer.get("successCount", 0)
    return (
        f"Kibana at {base} refused {len(errors)} saved object(s) ({done} imported): "
        f"{details or 'no details given'}{more}"
    )


def _object_error(error: Mapping[str, Any]) -> str:
    found = error.get("error")
    problem: Mapping[str, Any] = found if isinstance(found, dict) else {}
    kind = str(problem.get("type", "unknown"))
    what = f"{error.get('type', '?')} {error.get('id', '?')}: {kind}"
    if kind == "missing_references":
        missing = ", ".join(
            f"{r.get('type')} {r.get('id')}"
            for r in problem.get("references", [])
            if isinstance(r, dict)
        )
        return f"{what} ({missing}; add them to the file or import them first)"
    if problem.get("message"):
        return f"{what} ({problem['message']})"
    return what


def import_saved_objects(
    settings: Settings, *, path: Path | None = None, space: str | None = None
) -> ImportReport:
    """Read the saved objects (the packaged file unless ``path``) and import them."""
    source = str(path) if path else "the packaged deploy/kibana/newsstream.ndjson"
    try:
        data = path.read_bytes() if path else OBJECTS_FILE.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc}") from exc
    objects = with_index_names(
        read_objects(data, source=source),
        articles=settings.articles_alias,
        alerts=settings.alerts_index,
    )
    base = base_url(settings.kibana_url, space)
    auth = credentials(settings)
    response = post_import(base, to_ndjson(objects), auth=auth, verify=tls_verify(settings))
    return read_answer(response.status_code, response.content, base=base, space=space, auth=auth)


def format_report(report: ImportReport) -> list[str]:
    """Lines for the operator: what was imported, where to look, and any id Kibana changed."""
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.imported.items()))
    total = sum(report.imported.values())
    dashboard = report.new_ids.get(DASHBOARD, DASHBOARD)
    return [
        f"imported {total} saved objects into Kibana at {report.base_url} ({counts}), "
        "overwriting those with the same ids",
        f"dashboard: {report.base_url}/app/dashboards#/view/{dashboard}",
        *(_new_id_note(old, new) for old, new in sorted(report.new_ids.items())),
    ]


def _new_id_note(old: str, new: str) -> str:
    note = f"note: Kibana gave {old} the id {new}: another space has an object with id {old}"
    if old == ARTICLES_DATA_VIEW:  # alert links name the data view by id
        note += f"; set NEWSSTREAM_KIBANA_ARTICLES_DATA_VIEW={new} for alert links to this space"
    return note

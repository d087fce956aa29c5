"""`newsstream kibana import` against a loopback server that answers like Kibana's import API.

The server records each request (path, headers, body) and gives the answer the test set:
200 with Kibana's import summary, 200 with ``success: false`` and per-object errors, or an
HTTP error. No Kibana runs here: these tests pin what is sent and how answers are read.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli import main
from streams.errors import KibanaError
from streams.kibana import (
    ALERTS_DATA_VIEW,
    ARTICLES_DATA_VIEW,
    OBJECTS_FILE,
    Credentials,
    base_url,
    read_answer,
    read_objects,
    with_index_names,
)

PACKAGED = read_objects(OBJECTS_FILE.read_bytes(), source="packaged")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeKibana:
    url: str
    answer: tuple[int, Any] = (200, {})
    requests: list[Recorded] = field(default_factory=list)

    def succeed(self) -> None:
        """Answer as Kibana does when every object was imported."""
        results = [{"type": o["type"], "id": o["id"], "overwrite": True} for o in PACKAGED]
        body = {"success": True, "successCount": len(results), "successResults": results}
        self.answer = (200, body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kibana = self.server.kibana
        kibana.requests.append(Recorded(self.path, dict(self.headers.items()), body))
        status, answer = kibana.answer
        data = answer if isinstance(answer, bytes) else orjson.dumps(answer)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass


class _Server(ThreadingHTTPServer):
    kibana: FakeKibana


@pytest.fixture
def kibana(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKibana]:
    for name in [n for n in os.environ if n.startswith("NEWSSTREAM_")]:
        monkeypatch.delenv(name)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.kibana = FakeKibana(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("NEWSSTREAM_KIBANA_URL", server.kibana.url)
    try:
        yield server.kibana
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def uploaded(request: Recorded) -> tuple[Message, list[dict[str, Any]]]:
    """The multipart part named ``file`` and the saved objects in it."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    assert message.is_multipart()
    (part,) = [
        p
        for p in message.iter_parts()
        if p.get_param("name", header="content-disposition") == "file"
    ]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return part, read_objects(payload, source="upload")


def test_import_uploads_the_packaged_objects_with_overwrite_xsrf_and_the_api_key(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSSTREAM_KIBANA_API_KEY", "a2V5aWQ6c2VjcmV0")
    kibana.succeed()
    assert main(["kibana", "import"]) == 0
    (request,) = kibana.requests
    assert request.path == "/api/saved_objects/_import?overwrite=true"
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["Authorization"] == "ApiKey a2V5aWQ6c2VjcmV0"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    part, objects = uploaded(request)
    assert part.get_filename() == "newsstream.ndjson"  # Kibana wants the .ndjson extension
    assert objects == PACKAGED  # default names: nothing to change
    out = capsys.readouterr().out
    assert f"imported {len(PACKAGED)} saved objects into Kibana at {kibana.url}" in out
    assert "1 dashboard, 2 index-pattern, 5 lens, 4 search" in out
    assert f"{kibana.url}/app/dashboards#/view/newsstream-overview" in out


def test_a_second_import_sends_the_same_objects_again(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana.succeed()
    assert main(["kibana", "import"]) == main(["kibana", "import"]) == 0
    first, second = kibana.requests
    assert uploaded(first)[1] == uploaded(second)[1]
    assert first.path == second.path  # overwrite=true both times: an update, not a copy


def test_without_kibana_credentials_the_elasticsearch_user_is_used_in_the_space(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSSTREAM_ES_USERNAME", "elastic")
    monkeypatch.setenv("NEWSSTREAM_ES_PASSWORD", "chängeme")
    monkeypatch.setenv("NEWSSTREAM_ARTICLES_ALIAS", "team-news")
    monkeypatch.setenv("NEWSSTREAM_ALERTS_INDEX", "team-alerts")
    kibana.succeed()
    assert main(["kibana", "import", "--space", "analysts"]) == 0
    (request,) = kibana.requests
    assert request.path == "/s/analysts/api/saved_objects/_import?overwrite=true"
    token = base64.b64encode("elastic:chängeme".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    titles = {o["id"]: o["attributes"]["title"] for o in uploaded(request)[1]}
    assert titles[ARTICLES_DATA_VIEW] == "team-news"
    assert titles[ALERTS_DATA_VIEW] == "team-alerts"


def test_kibana_credentials_win_over_the_elasticsearch_ones(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSSTREAM_ES_API_KEY", "ZXM6a2V5")
    monkeypatch.setenv("NEWSSTREAM_KIBANA_USERNAME", "newsstream-kibana")
    monkeypatch.setenv("NEWSSTREAM_KIBANA_PASSWORD", "s3cret")
    kibana.succeed()
    assert main(["kibana", "import"]) == 0
    token = base64.b64encode(b"newsstream-kibana:s3cret").decode()
    assert kibana.requests[0].headers["Authorization"] == f"Basic {token}"


def test_no_credentials_send_no_authorization_header(kibana: FakeKibana) -> None:
    kibana.succeed()
    assert main(["kibana", "import"]) == 0
    assert "Authorization" not in kibana.requests[0].headers


def test_ids_kibana_changed_in_a_second_space_are_reported(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana.succeed()
    _, body = kibana.answer
    for result in body["successResults"]:  # what Kibana answers when another space has them
        if result["id"] in (ARTICLES_DATA_VIEW, "newsstream-overview"):
            result["destinationId"] = f"{result['id']}-copy"
    assert main(["kibana", "import", "--space", "second"]) == 0
    out = capsys.readouterr().out
    assert "/s/second/app/dashboards#/view/newsstream-overview-copy" in out
    assert (
        "note: Kibana gave newsstream-articles the id newsstream-articles-copy: another space "
        "has an object with id newsstream-articles; set "
        "NEWSSTREAM_KIBANA_ARTICLES_DATA_VIEW=newsstream-articles-copy" in out
    )


def test_refused_credentials_are_one_line_naming_the_settings(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSSTREAM_ES_API_KEY", "d3Jvbmc=")
    kibana.answer = (401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"})
    assert main(["kibana", "import"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        f"Kibana at {kibana.url} refused our credentials (401, used: NEWSSTREAM_ES_API_KEY)" in err
    )
    assert "NEWSSTREAM_KIBANA_API_KEY" in err and "NEWSSTREAM_KIBANA_USERNAME" in err


def test_missing_privileges_name_the_space(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "Unable to bulk_create index-pattern"
    kibana.answer = (403, {"statusCode": 403, "error": "Forbidden", "message": message})
    assert main(["kibana", "import", "--space", "analysts"]) == 1
    err = capsys.readouterr().err
    assert f"(403: {message}; used: no credentials)" in err
    assert "Saved Objects Management" in err and "in the space analysts" in err


def test_an_unknown_space_is_said(kibana: FakeKibana, capsys: pytest.CaptureFixture[str]) -> None:
    kibana.answer = (404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
    assert main(["kibana", "import", "--space", "nope"]) == 1
    assert "no Kibana space 'nope'" in capsys.readouterr().err


def test_objects_kibana_refused_are_listed_with_the_reason(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = {"type": "index-pattern", "id": "newsstream-articles"}
    kibana.answer = (
        200,
        {
            "success": False,
            "successCount": 10,
            "errors": [
                {
                    "id": "newsstream-top-entities",
                    "type": "lens",
                    "meta": {"title": "Top entities"},
                    "error": {"type": "missing_references", "references": [missing]},
                },
                {
                    "id": "newsstream-overview",
                    "type": "dashboard",
                    "error": {"type": "unknown", "message": "bad panelsJSON", "statusCode": 400},
                },
            ],
        },
    )
    assert main(["kibana", "import"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "refused 2 saved object(s) (10 imported)" in err
    assert (
        "lens newsstream-top-entities: missing_references (index-pattern newsstream-articles" in err
    )
    assert "dashboard newsstream-overview: unknown (bad panelsJSON)" in err


def test_an_answer_that_is_not_kibanas_is_an_error(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana.answer = (502, b"Bad Gateway")  # a proxy in front of Kibana
    assert main(["kibana", "import"]) == 1
    assert f"Kibana at {kibana.url} answered 502: Bad Gateway" in capsys.readouterr().err


def test_an_unreachable_kibana_names_the_setting(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("NEWSSTREAM_KIBANA_URL", f"http://127.0.0.1:{port}/")
    assert main(["kibana", "import"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach Kibana at http://127.0.0.1:{port} (" in err
    assert "check NEWSSTREAM_KIBANA_URL" in err


def test_a_tls_failure_is_told_apart_from_an_unreachable_kibana(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSSTREAM_KIBANA_URL", kibana.url.replace("http:", "https:"))
    assert main(["kibana", "import"]) == 1
    err = capsys.readouterr().err
    assert "TLS with Kibana at https://127.0.0.1:" in err
    assert "NEWSSTREAM_KIBANA_CA_CERTS" in err and "cannot reach" not in err


def test_a_file_of_ones_own_is_uploaded_and_a_broken_one_is_not(
    kibana: FakeKibana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = tmp_path / "export.ndjson"
    summary = {"excludedObjects": [], "exportedCount": 1, "missingRefCount": 0}
    own.write_bytes(orjson.dumps(PACKAGED[0]) + b"\n\n" + orjson.dumps(summary) + b"\n")
    kibana.succeed()
    assert main(["kibana", "import", "--file", str(own)]) == 0
    assert uploaded(kibana.requests[0])[1] == [PACKAGED[0]]  # the export summary is dropped
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(orjson.dumps(PACKAGED[0]) + b"\n{not json\n")
    assert main(["kibana", "import", "--file", str(broken)]) == 1
    assert f"{broken}, line 2: not JSON" in capsys.readouterr().err
    assert len(kibana.requests) == 1  # nothing sent for the broken file


def test_a_kibana_user_without_password_is_a_settings_error(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSSTREAM_KIBANA_USERNAME", "analyst")
    assert main(["kibana", "import"]) == 2
    assert "NEWSSTREAM_KIBANA_PASSWORD" in capsys.readouterr().err
    assert kibana.requests == []


def test_an_unreadable_ca_file_is_a_settings_error_before_any_request(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSSTREAM_KIBANA_CA_CERTS", "/no/such/ca.crt")
    assert main(["kibana", "import"]) == 1
    assert "NEWSSTREAM_KIBANA_CA_CERTS='/no/such/ca.crt'" in capsys.readouterr().err
    assert kibana.requests == []


# --- the pure parts -------------------------------------------------------------------------


def test_base_url_adds_an_escaped_space() -> None:
    assert base_url("https://kb.example/", None) == "https://kb.example"
    assert base_url("https://kb.example", "risk team") == "https://kb.example/s/risk%20team"


def test_with_index_names_changes_only_the_two_data_view_titles() -> None:
    renamed = with_index_names(PACKAGED, articles="a", alerts="b")
    changed = [(old, new) for old, new in zip(PACKAGED, renamed, strict=True) if old != new]
    assert {new["id"]: new["attributes"]["title"] for _, new in changed} == {
        ARTICLES_DATA_VIEW: "a",
        ALERTS_DATA_VIEW: "b",
    }
    assert PACKAGED[0]["attributes"]["title"] == "news-articles"  # the input is not changed


def test_a_success_without_details_still_counts() -> None:
    report = read_answer(
        200,
        b'{"success": true, "successCount": 3}',
        base="http://k",
        space=None,
        auth=Credentials({}, "none"),
    )
    assert report.imported == {"saved object": 3}
    with pytest.raises(KibanaError, match="answered 200: <html>"):
        read_answer(
            200, b"<html>login</html>", base="http://k", space=None, auth=Credentials({}, "-")
        )

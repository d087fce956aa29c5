"""The status page is a pure function of what the worker knows."""

from __future__ import annotations

from urllib.parse import unquote

from streams.worker.status_page import History, PageData, Sample, render


def page(**changes: object) -> str:
    history = History()
    for i in range(3):
        history.add(Sample(at=100.0 + 10 * i, done={"enrich": 50.0 * i, "index": 0.0}, lag=7 - i))
    data = {
        "history": history,
        "not_ready_because": [],
        "stuck_stages": [],
        "dead_letters": {("parse", "InvalidArticle"): 3.0, ("index", "RecordRejected"): 1.0},
        "alerts": [
            {
                "updated_at": "2026-12-06T09:00:00Z",
                "rule_name": "Sanctions news",
                "article_id": "abc",
                "article_title": "EU <sanctions>",
                "article_url": "https://news.example/a",
                "status": "sent",
            }
        ],
        "kibana_url": "http://kibana:5601",
        "version": "1.2.3",
        **changes,
    }
    return render(PageData(**data), now=0.0)  # type: ignore[arg-type]


def test_rates_are_records_a_second_between_samples() -> None:
    history = History()
    history.add(Sample(at=0.0, done={"enrich": 0.0}, lag=0))
    history.add(Sample(at=10.0, done={"enrich": 50.0}, lag=0))
    assert history.rates("enrich") == [5.0] and history.rates("index") == [0.0]


def test_the_page_shows_state_throughput_lag_dead_letters_and_alerts() -> None:
    html = page()
    assert 'class="ok">ready<' in html and "1.2.3" in html
    assert "<td>enrich</td><td class=num>5.0/s</td>" in html
    assert '<span id="lag">5</span>' in html
    assert html.index("InvalidArticle") < html.index("RecordRejected")  # most first
    assert "EU &lt;sanctions&gt;" in html and "<sanctions>" not in html  # escaped
    assert 'href="https://news.example/a"' in html and "http://kibana:5601/app/discover" in html


def test_the_kibana_link_opens_the_articles_data_view() -> None:
    # The link is HTML-escaped: rison's quotes and colons survive, & becomes &amp;.
    assert "dataViewId:newsstream-articles,type:dataView" in unquote(page())
    assert "dataViewId:team-news,type:dataView" in unquote(page(kibana_data_view="team-news"))


def test_not_ready_names_the_reasons_and_a_silent_alert_index_is_said() -> None:
    html = page(not_ready_because=["Kafka unreachable"], alerts=None)
    assert 'class="bad">not ready: Kafka unreachable<' in html
    assert "the alert index did not answer" in html
    assert "collecting" in page(history=History())

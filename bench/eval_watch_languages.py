"""Watch topics in German, French, Spanish and Italian: a small self-labelled check.

There is no labelled non-English news in ../shared/data, so this is a small set we labelled
ourselves; read its figures as a smoke test of the per-language terms, not as a benchmark:

* ``bench/data/watch_languages.jsonl``: 82 short news items in de/fr/es/it written for this
  check (our own text): positives for every watch topic and hard negatives that share the
  topics' words (German "Zoll" as the inch of a screen, "Sanktionen" of the job centre,
  Italian "sanzioni" of the highway code or a sports judge, Spanish "sanción" as royal
  assent, "tarifa"/"tariffe" as electricity prices). Each item lists the topics it must
  match (``topics``) and those it may match without being wrong (``also``); every other
  topic must not match. Split in two by a hash of the id: the terms were corrected on the
  ``development`` half only; the ``held_out`` half was scored once, at the end.
* ``bench/data/watch_languages_feeds.jsonl``: the German, Italian and Portuguese items of
  the real feeds in ``../shared/data/feeds`` (heise, Spiegel, Il Giornale, Il Messaggero,
  Jornal de Notícias, UOL), by link, with our labels for the topics trade, sanctions and
  export-controls only (the publishers' text stays in ../shared/data). None of them is
  about those topics, so this part counts false positives.

Figures: precision, recall and F1 of the topic decisions (item x topic), per language.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eval_common import held_out, prf, run_alone

from streams.enrich import load_taxonomy, match_topics
from streams.enrich.topics import Taxonomy
from streams.errors import InvalidArticle
from streams.producers.feeds.config import FeedConfig
from streams.producers.feeds.items import entry_to_article, parse_feed
from streams.settings import Settings
from streams.tokens import tokenize

HERE = Path(__file__).resolve().parent
WRITTEN = HERE / "data" / "watch_languages.jsonl"
FEED_LABELS = HERE / "data" / "watch_languages_feeds.jsonl"
FOCUS = ("trade", "sanctions", "export-controls")
LANGUAGES = ("de", "fr", "es", "it")
_TAG = re.compile(r"<[^>]+>")


def part_of(item_id: str) -> str:
    return "held_out" if held_out(item_id, percent=50, salt="watch-languages") else "development"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def predicted(taxonomy: Taxonomy, title: str, body: str) -> set[str]:
    found = match_topics(taxonomy, title=tokenize(title), body=tokenize(body))
    return {m.label for m in found}


def decisions(
    gold: Iterable[str], also: Iterable[str], found: set[str], scored: Iterable[str]
) -> dict[str, list[str]]:
    """True/false positives and false negatives of one item, by topic."""
    gold, also = set(gold), set(also)
    result: dict[str, list[str]] = {"tp": [], "fp": [], "fn": []}
    for topic in scored:
        if topic in also:
            continue
        if topic in gold:
            result["tp" if topic in found else "fn"].append(topic)
        elif topic in found:
            result["fp"].append(topic)
    return result


def _add(counts: dict[str, int], outcome: dict[str, list[str]], topics: set[str]) -> None:
    for kind in ("tp", "fp", "fn"):
        counts[kind] += sum(t in topics for t in outcome[kind])


def evaluate_written(taxonomy: Taxonomy, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    all_topics = [t.label for t in taxonomy.topics]
    results: dict[str, Any] = {}
    for part in ("development", "held_out"):
        rows = [i for i in items if part_of(i["id"]) == part]
        by_language: dict[str, Any] = {}
        errors: list[str] = []
        for language in LANGUAGES:
            every = {"tp": 0, "fp": 0, "fn": 0}
            focus = {"tp": 0, "fp": 0, "fn": 0}
            n = 0
            for item in (i for i in rows if i["language"] == language):
                n += 1
                found = predicted(taxonomy, item["title"], item["body"])
                outcome = decisions(item["topics"], item.get("also", ()), found, all_topics)
                _add(every, outcome, set(all_topics))
                _add(focus, outcome, set(FOCUS))
                errors += [f"{item['id']} missed {t}" for t in outcome["fn"]]
                errors += [f"{item['id']} wrongly {t}" for t in outcome["fp"]]
            by_language[language] = {
                "items": n,
                "all_topics": {**prf(**every), **every},
                "trade_sanctions_export_controls": {**prf(**focus), **focus},
            }
        results[part] = {"by_language": by_language, "errors": errors}
    return results


def feed_items(
    data: Path, labels: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, Any], str, str]]:
    """Each labelled feed item with its title and text (tags dropped), read from the feed."""
    wanted = {(label["feed"], label["link"]): label for label in labels}
    found = []
    for name in sorted({label["feed"] for label in labels}):
        parsed = parse_feed((data / "feeds" / name).read_bytes(), url=f"file:///{name}")
        feed = FeedConfig(url=f"file:///{name}", source=name)
        for entry in parsed.entries:
            try:
                article = entry_to_article(entry, feed=feed, feed_language=parsed.language)
            except InvalidArticle:
                continue  # no text: not a labelled item
            label = wanted.get((name, article.url or ""))
            if label is not None:
                text = html.unescape(_TAG.sub(" ", article.text or ""))
                found.append((label, article.title or "", text))
    return found


def evaluate_feeds(taxonomy: Taxonomy, data: Path) -> dict[str, Any]:
    labels = read_jsonl(FEED_LABELS)
    items = feed_items(data, labels)
    results: dict[str, Any] = {"labelled": len(labels), "read": len(items)}
    for language in sorted({label["language"] for label, _, _ in items}):
        counts = {"tp": 0, "fp": 0, "fn": 0}
        wrong: list[str] = []
        rows = [(lab, t, b) for lab, t, b in items if lab["language"] == language]
        for label, title, body in rows:
            found = predicted(taxonomy, title, body)
            outcome = decisions(label["topics"], label.get("also", ()), found, FOCUS)
            _add(counts, outcome, set(FOCUS))
            wrong += [f"{label['link']} wrongly {t}" for t in outcome["fp"]]
        results[language] = {"items": len(rows), **counts, "errors": wrong}
    return results


def evaluate(data: Path, *, taxonomy_path: Path | None = None) -> dict[str, Any]:
    taxonomy = load_taxonomy(taxonomy_path or Settings().taxonomy_path)
    return {
        "written": evaluate_written(taxonomy, read_jsonl(WRITTEN)),
        "feeds": evaluate_feeds(taxonomy, data),
    }


def report(results: dict[str, Any]) -> None:
    print("watch topics in de/fr/es/it (small self-labelled set, bench/data/watch_languages*):")
    for part in ("development", "held_out"):
        written = results["written"][part]
        for language, r in written["by_language"].items():
            every, focus = r["all_topics"], r["trade_sanctions_export_controls"]
            print(
                f"  {part:<11} {language} ({r['items']:>2} items): all topics P "
                f"{every['precision']:.2f} R {every['recall']:.2f} F1 {every['f1']:.2f}; "
                f"trade+sanctions+export-controls P {focus['precision']:.2f} "
                f"R {focus['recall']:.2f} F1 {focus['f1']:.2f}"
            )
        if written["errors"]:
            print(f"    {part} errors: " + "; ".join(written["errors"]))
    feeds = results["feeds"]
    for language, r in feeds.items():
        if isinstance(r, dict):
            print(
                f"  real feed items, {language}: {r['items']} items, "
                f"{r['fp']} false positives for trade/sanctions/export-controls"
                + (f" ({'; '.join(r['errors'])})" if r["errors"] else "")
            )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()

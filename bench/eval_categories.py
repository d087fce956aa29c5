"""IPTC categories: accuracy on the BBC News corpus, and a second corpus as a check.

The category lexicon is hand-written from IPTC's scope notes and not trained on BBC, so
all 2,225 BBC articles are test data. BBC's five classes map to IPTC top-level topics;
a prediction is right when the best-scored category is the mapped one.

As a check that the figure is not a BBC accident: Reuters-21578 articles whose topics
are clearly economic (earn, acq, money-fx, interest, trade, crude, grain, ...) should
come out as "economy, business and finance".
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval_common import run_alone

from streams.enrich import CategoryModel, categorize, load_categories
from streams.tokens import tokenize

BBC_TO_IPTC = {
    "business": "economy, business and finance",
    "entertainment": "arts, culture, entertainment and media",
    "politics": "politics",
    "sport": "sport",
    "tech": "science and technology",
}
REUTERS_ECONOMY = frozenset(
    {
        "earn",
        "acq",
        "money-fx",
        "interest",
        "trade",
        "crude",
        "grain",
        "ship",
        "money-supply",
        "gnp",
        "cpi",
        "bop",
        "reserves",
        "jobs",
        "ipi",
    }
)


def evaluate_bbc(data: Path, model: CategoryModel) -> dict[str, Any]:
    with (data / "bbc" / "bbc_news.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    correct = in_top3 = 0
    per_class: Counter[str] = Counter()
    per_class_correct: Counter[str] = Counter()
    confusions: Counter[str] = Counter()
    for row in rows:
        found = categorize(model, title=tokenize(row["title"]), body=tokenize(row["text"]))
        gold = BBC_TO_IPTC[row["category"]]
        best = found[0].label if found else "(none)"
        per_class[row["category"]] += 1
        if best == gold:
            correct += 1
            per_class_correct[row["category"]] += 1
        else:
            confusions[f"{row['category']} -> {best}"] += 1
        in_top3 += any(c.label == gold for c in found)
    return {
        "articles": len(rows),
        "accuracy": round(correct / len(rows), 4),
        "gold_in_returned_labels": round(in_top3 / len(rows), 4),
        "per_class_accuracy": {
            k: round(per_class_correct[k] / n, 4) for k, n in sorted(per_class.items())
        },
        "top_confusions": dict(confusions.most_common(6)),
    }


def evaluate_reuters(data: Path, model: CategoryModel) -> dict[str, Any]:
    total = correct = 0
    with (data / "reuters21578" / "modapte_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            topics = set(article.get("topics", []))
            if not topics or not topics <= REUTERS_ECONOMY:
                continue
            found = categorize(
                model, title=tokenize(article.get("title") or ""), body=tokenize(article["text"])
            )
            total += 1
            correct += bool(found) and found[0].label == "economy, business and finance"
    return {"articles": total, "accuracy": round(correct / total, 4) if total else 0.0}


def evaluate(data: Path) -> dict[str, Any]:
    model = load_categories()
    return {"bbc": evaluate_bbc(data, model), "reuters_economy": evaluate_reuters(data, model)}


def report(results: dict[str, Any]) -> None:
    bbc, reuters = results["bbc"], results["reuters_economy"]
    print(
        f"categories on BBC ({bbc['articles']} articles, no training): accuracy "
        f"{bbc['accuracy']:.3f}; gold among returned labels {bbc['gold_in_returned_labels']:.3f}"
    )
    print("  per class: " + ", ".join(f"{k} {v:.3f}" for k, v in bbc["per_class_accuracy"].items()))
    print(
        f"categories on Reuters-21578 economic topics ({reuters['articles']} articles): "
        f"'economy, business and finance' first {reuters['accuracy']:.3f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()

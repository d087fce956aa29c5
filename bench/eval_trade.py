"""Watch topic ``trade`` against the Reuters-21578 topic ``trade`` (ModApte training split).

The split's articles are divided once, by a hash of their id, into a development part
(70 %, the only part looked at while writing the taxonomy) and a held-out part (30 %);
the figure that counts is the held-out F1.

When the topic has a classifier (``model:`` in the taxonomy), it was trained on the
development part (training/train_topics.py), so the development figure is in-sample;
its honest development figure is the cross-validated F1 stored in the model file, printed
alongside. The lexicon alone (the topic's terms without the classifier) is printed too.

Errors are counted by kind, told by the article's other Reuters topics (``error_kind``):
Reuters gives ``trade`` to many balance-of-payments, currency and economic-outlook stories
(the topic's description does not cover them) and leaves it off some trade disputes over
one commodity (EC oils tax, Canadian corn duty), which carry only the commodity's topic.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval_common import DEFAULT_DATA, held_out, prf

from streams.enrich import lexicon_scores, load_taxonomy, match_topics
from streams.settings import Settings
from streams.tokens import tokenize

_PAYMENTS = {"bop"}
_CURRENCIES = {"money-fx", "dlr", "yen", "dmk", "reserves"}
_ECONOMY = {"gnp", "ipi", "cpi", "wpi", "interest", "jobs", "money-supply", "retail", "income"}
_COMPANY = {"acq", "earn"}


def error_kind(topics: list[str], *, missed: bool) -> str:
    """What a wrong decision is about, told by the article's other Reuters topics."""
    others = set(topics) - {"trade"}
    if not others:
        return "Reuters 'trade' only" if missed else "no Reuters topic"
    if others & _PAYMENTS:
        return "balance of payments"
    if others & _CURRENCIES:
        return "currencies"
    if others & _ECONOMY:
        return "economic outlook"
    if others <= _COMPANY:
        return "company news"
    return "commodity"


def evaluate(data: Path, *, taxonomy_path: Path | None = None) -> dict[str, Any]:
    taxonomy = load_taxonomy(taxonomy_path or Settings().taxonomy_path)
    topic = next(t for t in taxonomy.topics if t.label == "trade")
    counts = {part: {"tp": 0, "fp": 0, "fn": 0, "n": 0} for part in ("development", "held_out")}
    lexicon = {part: {"tp": 0, "fp": 0, "fn": 0} for part in counts}
    kinds: dict[str, dict[str, Counter[str]]] = {
        part: {"missed": Counter(), "extra": Counter()} for part in counts
    }
    with (data / "reuters21578" / "modapte_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            part = "held_out" if held_out(str(article["newid"])) else "development"
            gold = "trade" in article.get("topics", [])
            title, body = tokenize(article.get("title") or ""), tokenize(article["text"])
            found = match_topics(taxonomy, title=title, body=body)
            predicted = any(m.label == "trade" for m in found)
            c = counts[part]
            c["n"] += 1
            c["tp"] += predicted and gold
            c["fp"] += predicted and not gold
            c["fn"] += gold and not predicted
            if predicted != gold:
                topics = list(article.get("topics", []))
                side = "missed" if gold else "extra"
                kinds[part][side][error_kind(topics, missed=gold)] += 1
            if topic.model is not None:
                by_terms = lexicon_scores(taxonomy, title=title, body=body)["trade"] >= 0.5
                lex = lexicon[part]
                lex["tp"] += by_terms and gold
                lex["fp"] += by_terms and not gold
                lex["fn"] += gold and not by_terms
    results: dict[str, Any] = {
        part: {
            **prf(c["tp"], c["fp"], c["fn"]),
            **c,
            "errors_by_kind": {side: dict(k.most_common()) for side, k in kinds[part].items()},
        }
        for part, c in counts.items()
    }
    if topic.model is not None:
        results["classifier"] = {
            "model": topic.model.path,
            "model_weight": topic.model_weight,
            **topic.model.metrics,
            "lexicon_alone": {part: prf(**c) for part, c in lexicon.items()},
        }
    return results


def report(results: dict[str, Any]) -> None:
    classifier = results.get("classifier")
    for part in ("development", "held_out"):
        r = results[part]
        note = ""
        if classifier and part == "development":
            note = (
                " (in-sample: the classifier was trained on it; cross-validated F1 "
                f"{classifier.get('cv_f1_combined', float('nan')):.3f})"
            )
        print(
            f"watch topic trade vs Reuters-21578 'trade', {part} ({r['n']} articles): "
            f"P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}{note}"
        )
        for side, what in (("missed", "missed (Reuters 'trade')"), ("extra", "extra")):
            by_kind = r["errors_by_kind"][side]
            print(f"    {what}: " + ", ".join(f"{k} {n}" for k, n in by_kind.items()))
    if classifier:
        alone = classifier["lexicon_alone"]
        print(
            f"  with classifier {Path(classifier['model']).name} "
            f"(model_weight {classifier['model_weight']}); terms alone: "
            f"development F1 {alone['development']['f1']:.3f}, "
            f"held_out F1 {alone['held_out']['f1']:.3f}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--taxonomy", type=Path, default=None)
    args = parser.parse_args(argv)
    report(evaluate(args.data, taxonomy_path=args.taxonomy))


if __name__ == "__main__":
    main()

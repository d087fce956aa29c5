"""Watch topic ``trade`` against the Reuters-21578 topic ``trade`` (ModApte training split).

The split's articles are divided once, by a hash of their id, into a development part
(70 %, the only part looked at while writing the taxonomy) and a held-out part (30 %);
the figure that counts is the held-out F1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval_common import DEFAULT_DATA, held_out, prf

from streams.enrich.terms import tokenize
from streams.enrich.topics import load_taxonomy, match_topics
from streams.settings import Settings


def evaluate(data: Path, *, taxonomy_path: Path | None = None) -> dict[str, Any]:
    taxonomy = load_taxonomy(taxonomy_path or Settings().taxonomy_path)
    counts = {part: {"tp": 0, "fp": 0, "fn": 0, "n": 0} for part in ("development", "held_out")}
    with (data / "reuters21578" / "modapte_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            part = "held_out" if held_out(str(article["newid"])) else "development"
            gold = "trade" in article.get("topics", [])
            found = match_topics(
                taxonomy, title=tokenize(article.get("title") or ""), body=tokenize(article["text"])
            )
            predicted = any(m.label == "trade" for m in found)
            c = counts[part]
            c["n"] += 1
            c["tp"] += predicted and gold
            c["fp"] += predicted and not gold
            c["fn"] += gold and not predicted
    return {part: {**prf(c["tp"], c["fp"], c["fn"]), **c} for part, c in counts.items()}


def report(results: dict[str, Any]) -> None:
    for part, r in results.items():
        print(
            f"watch topic trade vs Reuters-21578 'trade', {part} ({r['n']} articles): "
            f"P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--taxonomy", type=Path, default=None)
    args = parser.parse_args(argv)
    report(evaluate(args.data, taxonomy_path=args.taxonomy))


if __name__ == "__main__":
    main()

"""Article extraction: bag-of-words F1 of the body against the gold article text.

Data: the article-extraction benchmark (181 real pages, gold ``articleBody``). Our body
(``streams.enrich.clean.clean_html``: trafilatura plus the scraped-text line filters) is
scored side by side with plain ``trafilatura.extract`` with its defaults, in the same run.
Per page: precision and recall of the multiset of lower-case words; the figures are
means over pages (a page where extraction fails scores 0).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import trafilatura
from eval_common import bag_f1, run_alone

from streams.enrich import clean_html
from streams.errors import EnrichmentError
from streams.tokens import alnum_runs


def _ours(html: str) -> str:
    try:
        return clean_html(html).body
    except EnrichmentError:
        return ""


def _plain(html: str) -> str:
    return trafilatura.extract(html) or ""


EXTRACTORS: dict[str, Callable[[str], str]] = {"newsstream": _ours, "trafilatura": _plain}


def evaluate(data: Path) -> dict[str, Any]:
    folder = data / "extraction"
    gold = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    sums = {name: [0.0, 0.0, 0.0] for name in EXTRACTORS}
    pages = 0
    for page_id, truth in sorted(gold.items()):
        path = folder / "html" / f"{page_id}.html.gz"
        if not path.exists():
            continue
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        gold_words = alnum_runs(str(truth.get("articleBody") or "").lower())
        pages += 1
        for name, extract in EXTRACTORS.items():
            scores = bag_f1(alnum_runs(extract(html).lower()), gold_words)
            for i, value in enumerate(scores):
                sums[name][i] += value
    return {
        name: {
            "pages": pages,
            "precision": round(p / pages, 4),
            "recall": round(r / pages, 4),
            "f1": round(f / pages, 4),
        }
        for name, (p, r, f) in sums.items()
    }


def report(results: dict[str, Any]) -> None:
    for name, r in results.items():
        print(
            f"extraction {name:<12} ({r['pages']} pages): "
            f"P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()

"""Article extraction: bag-of-words F1 of the body against the gold article text.

Data: the article-extraction benchmark (181 real pages, gold ``articleBody``). Our body
(``streams.enrich.clean.clean_html``: trafilatura plus the scraped-text line filters) is
scored side by side with plain ``trafilatura.extract`` with its defaults, in the same run.
Per page: precision and recall of the multiset of lower-case words; the figures are
means over pages (a page where extraction fails scores 0; every page is a real article,
so each page ours refuses is counted and named with its reason). Each extractor's time
per page is its mean wall time over all pages (the machine's load shows in it).

The figures are also given for two halves, split by site (``held_out`` on the page's
host, 50 %): ``dev`` is the half the extraction rules (which passes run when, the line
filters) were chosen on, ``held-out`` the half that was not looked at while choosing.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from eval_common import bag_f1, held_out, run_alone

from streams.enrich import clean_html
from streams.errors import EnrichmentError
from streams.tokens import alnum_runs


def _ours(html: str) -> str:
    return clean_html(html).body


def _plain(html: str) -> str:
    return trafilatura.extract(html) or ""


EXTRACTORS: dict[str, Callable[[str], str]] = {"newsstream": _ours, "trafilatura": _plain}
PARTS = ("all", "dev", "held-out")


def _part(url: str) -> str:
    site = (urlsplit(url).hostname or url).removeprefix("www.")
    return "held-out" if held_out(site, percent=50, salt="extraction") else "dev"


def evaluate(data: Path) -> dict[str, Any]:
    folder = data / "extraction"
    gold = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    sums = {(name, part): [0.0, 0.0, 0.0] for name in EXTRACTORS for part in PARTS}
    pages = dict.fromkeys(PARTS, 0)
    refused: dict[str, str] = {}
    seconds = dict.fromkeys(EXTRACTORS, 0.0)
    for page_id, truth in sorted(gold.items()):
        path = folder / "html" / f"{page_id}.html.gz"
        if not path.exists():
            continue
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        gold_words = alnum_runs(str(truth.get("articleBody") or "").lower())
        part = _part(str(truth.get("url") or page_id))
        pages["all"] += 1
        pages[part] += 1
        for name, extract in EXTRACTORS.items():
            started = time.perf_counter()
            try:
                body = extract(html)
            except EnrichmentError as exc:
                body, refused[page_id] = "", str(exc)
            seconds[name] += time.perf_counter() - started
            scores = bag_f1(alnum_runs(body.lower()), gold_words)
            for key in ((name, "all"), (name, part)):
                for i, value in enumerate(scores):
                    sums[key][i] += value
    return {
        name: {
            part: {
                "pages": pages[part],
                "precision": round(sums[name, part][0] / pages[part], 4),
                "recall": round(sums[name, part][1] / pages[part], 4),
                "f1": round(sums[name, part][2] / pages[part], 4),
            }
            for part in PARTS
            if pages[part]
        }
        | {"ms_per_page": round(1000 * seconds[name] / max(1, pages["all"]), 1)}
        | ({"refused": refused} if name == "newsstream" else {})
        for name in EXTRACTORS
    }


def report(results: dict[str, Any]) -> None:
    for part in PARTS:
        for name, by_part in results.items():
            r = by_part.get(part)
            if r is None:
                continue
            print(
                f"extraction {part:<8} {name:<12} ({r['pages']} pages): "
                f"P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}"
            )
    for name, by_part in results.items():
        print(f"extraction time      {name:<12} {by_part['ms_per_page']:.1f} ms/page")
    refused = results.get("newsstream", {}).get("refused", {})
    print(f"extraction: {len(refused)} real article pages refused by newsstream")
    for page_id, reason in refused.items():
        print(f"  {page_id}: {reason}")


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()

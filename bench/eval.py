"""Quality figures of newsstream enrichment, each printed; ``--out`` also writes them as JSON.

    .venv/bin/python bench/eval.py --data ../shared/data [--out bench/results/eval.json]

Figures (each from its own bench/eval_*.py, which can also run alone):
  seed        the seed article's expected persons, places, cleaning, author, topic
  categories  IPTC top level on BBC News (+ Reuters economic topics as a second corpus)
  trade       watch topic ``trade`` vs Reuters-21578 ``trade`` on a held-out part
  extraction  body bag-of-words F1 vs plain trafilatura on the extraction benchmark
  screening   recall on listed names, hits on unlisted news names
  dedup       syndicated copies found, distinct BBC stories left alone
  watch_languages  watch topics in de/fr/es/it on a small self-written labelled set,
              and false positives on real German/Italian/Portuguese feed items
  ner         CoNLL-2003 dev entity F1 through ``newsstream enrich --no-clean``
              (bench/eval_ner.py, run as a subprocess; skipped if it is missing)
  speed       full enrichment vs spaCy NER alone (only with ``--speed N``)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import eval_categories
import eval_dedup
import eval_extraction
import eval_screening
import eval_seed
import eval_trade
import eval_watch_languages
from eval_common import DEFAULT_DATA, REPO

BENCH = Path(__file__).resolve().parent

# The figures the README quotes, by their path in the results; `make eval` prints each
# beside the one in the previous results file it replaces (the last committed run).
HEADLINES: tuple[tuple[str, str], ...] = (
    ("NER, CoNLL-2003 dev (eng.testa), entity F1", "ner.f1"),
    ("categories, BBC top label = class (all, lexicon)", "categories.bbc.accuracy"),
    ("categories, BBC held out, IPTC", "categories.model.bbc_held_out.iptc_accuracy"),
    (
        "categories, BBC held out, IPTC, lexicon alone",
        "categories.lexicon_alone.bbc_held_out.iptc_accuracy",
    ),
    (
        "categories, BBC held out short, 4 classes",
        "categories.model.bbc_held_out_short.four_class_accuracy",
    ),
    (
        "categories, BBC held out short, lexicon alone",
        "categories.lexicon_alone.bbc_held_out_short.four_class_accuracy",
    ),
    ("categories, unseen feeds, 4 classes", "categories.model.feeds_unseen.four_class_accuracy"),
    (
        "categories, unseen feed items, lexicon alone",
        "categories.lexicon_alone.feeds_unseen.four_class_accuracy",
    ),
    ("categories, Reuters economy first (all, lexicon)", "categories.reuters_economy.accuracy"),
    (
        "categories, Reuters economy held out",
        "categories.model.reuters_economy_held_out.iptc_accuracy",
    ),
    ("trade vs Reuters trade, held-out F1", "trade.held_out.f1"),
    ("trade, terms alone, held-out F1", "trade.classifier.lexicon_alone.held_out.f1"),
    ("extraction body F1, all pages", "extraction.newsstream.all.f1"),
    ("extraction, plain trafilatura, same run", "extraction.trafilatura.all.f1"),
    ("extraction body F1, held-out half", "extraction.newsstream.held-out.f1"),
    (
        "watch topics de, held out, F1",
        "watch_languages.written.held_out.by_language.de.all_topics.f1",
    ),
    (
        "watch topics fr, held out, F1",
        "watch_languages.written.held_out.by_language.fr.all_topics.f1",
    ),
    (
        "watch topics es, held out, F1",
        "watch_languages.written.held_out.by_language.es.all_topics.f1",
    ),
    (
        "watch topics it, held out, F1",
        "watch_languages.written.held_out.by_language.it.all_topics.f1",
    ),
    ("screening recall, UN-listed persons", "screening.recall"),
    ("near-duplicates found", "dedup.copies_found"),
)


def figure_at(results: dict[str, Any], path: str) -> float | None:
    node: Any = results
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def side_by_side(results: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """One line per headline figure: previous run, this run."""
    lines = [f"{'figure':<50} {'previous':>9} {'now':>9}"]
    for label, path in HEADLINES:
        before, now = figure_at(previous, path), figure_at(results, path)
        if before is None and now is None:
            continue
        shown = [f"{v:9.3f}" if v is not None else f"{'-':>9}" for v in (before, now)]
        lines.append(f"{label:<50} {shown[0]} {shown[1]}")
    return lines


def _ner(data: Path) -> dict[str, Any]:
    script = BENCH / "eval_ner.py"
    if not script.exists():
        return {"skipped": "bench/eval_ner.py not present"}
    run = subprocess.run(
        [sys.executable, str(script), "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    overall = re.search(
        r"^overall\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", run.stdout, re.M
    )
    if run.returncode != 0 or overall is None:
        return {"error": (run.stderr or run.stdout).strip()[-500:]}
    return {
        "output": run.stdout.strip(),
        "precision": float(overall.group(4)),
        "recall": float(overall.group(5)),
        "f1": float(overall.group(6)),
    }


def _report_ner(results: dict[str, Any]) -> None:
    if "f1" in results:
        print(results["output"])
        print(f"NER on CoNLL-2003 dev (eng.testa): entity F1 {results['f1']:.3f}")
    else:
        print(f"NER: {results.get('skipped') or results.get('error')}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--only", nargs="*", default=None, help="run only these figures")
    parser.add_argument("--skip-ner", action="store_true", help="leave out the CoNLL NER figure")
    parser.add_argument("--speed", type=int, default=0, help="also time N BBC articles")
    args = parser.parse_args(argv)
    data: Path = args.data.resolve()

    evaluations: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[Any], None]]] = {
        "seed": (eval_seed.evaluate, eval_seed.report),
        "categories": (lambda: eval_categories.evaluate(data), eval_categories.report),
        "trade": (lambda: eval_trade.evaluate(data), eval_trade.report),
        "extraction": (lambda: eval_extraction.evaluate(data), eval_extraction.report),
        "screening": (lambda: eval_screening.evaluate(data), eval_screening.report),
        "dedup": (lambda: eval_dedup.evaluate(data), eval_dedup.report),
        "watch_languages": (
            lambda: eval_watch_languages.evaluate(data),
            eval_watch_languages.report,
        ),
    }
    if not args.skip_ner:
        evaluations["ner"] = (lambda: _ner(data), _report_ner)
    if args.speed:
        import eval_speed

        evaluations["speed"] = (lambda: eval_speed.evaluate(data, n=args.speed), eval_speed.report)

    results: dict[str, Any] = {}
    for name, (evaluate, report) in evaluations.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        results[name] = evaluate()
        report(results[name])
        print(f"  ({name}: {time.perf_counter() - start:.1f}s)\n")
    previous: dict[str, Any] = {}
    if args.out and args.out.exists():
        previous = json.loads(args.out.read_text("utf-8"))
    print("\n".join(side_by_side(results, previous)))
    if args.out:
        # A partial run keeps the other figures of the last full one.
        if args.only:
            results = {**previous, **results}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()

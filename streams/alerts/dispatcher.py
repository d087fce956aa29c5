"""From matched rules to delivered webhooks.

``alerts_for`` turns rule matches into Alert records (pure). ``AlertDispatcher`` claims
each alert in ``news-alerts`` (the dedup key), posts it to every target of its rule,
and records the outcome. ``RulesHolder`` keeps the last good rule set and reloads it
when the file changes; a broken edit is logged and ignored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from elasticsearch import AsyncElasticsearch
from streams.alerts.payloads import render_payload
from streams.alerts.rules import RuleSet, Target, load_rules
from streams.alerts.signing import sign_headers

from streams.alerts.delivery import DeliveryResult, RetryPolicy, deliver
from streams.alerts.store import AlertStatus, claim, mark
from streams.dlq import utc_now
from streams.errors import ConfigError, DeliveryError
from streams.models import Alert, EnrichedArticle
from streams.settings import Settings

log = logging.getLogger(__name__)


def alert_id(rule_id: str, story_id: str) -> str:
    return hashlib.sha256(f"{rule_id}\x00{story_id}".encode()).hexdigest()[:32]


def alerts_for(rules: RuleSet, article: EnrichedArticle, *, now: str) -> list[Alert]:
    """One alert per matching rule; syndicated copies of a story share the first copy's id."""
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
        )
        for match in rules.match(article)
    ]


@dataclass
class RulesHolder:
    path: Path
    default_webhook_url: str
    current: RuleSet
    mtime: float = 0.0

    @classmethod
    def load(cls, settings: Settings) -> RulesHolder:
        path = Path(settings.rules_path)
        rules = load_rules(path, environ=os.environ, default_webhook_url=settings.webhook_url)
        return cls(path, settings.webhook_url, rules, _mtime(path))

    def reload_if_changed(self) -> bool:
        mtime = _mtime(self.path)
        if mtime == self.mtime:
            return False
        self.mtime = mtime
        try:
            self.current = load_rules(
                self.path, environ=os.environ, default_webhook_url=self.default_webhook_url
            )
        except ConfigError as exc:
            log.error("keeping the last good rules: %s", exc)
            return False
        log.info("reloaded alert rules from %s", self.path)
        return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass
class AlertDispatcher:
    es: AsyncElasticsearch
    http: httpx.AsyncClient
    settings: Settings
    rules: RulesHolder
    policy: RetryPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.policy = RetryPolicy(max_attempts=self.settings.webhook_max_attempts)

    async def dispatch(self, alert: Alert) -> DeliveryError | None:
        """Deliver once; return the error when the retry budget ran out (for alerts.dlq)."""
        index = self.settings.alerts_index
        if not await claim(self.es, index, alert, now=utc_now()):
            log.info("alert %s already handled; not sent again", alert.alert_id)
            return None
        attempts = 0
        errors: list[str] = []
        for name in alert.targets:
            target = self.rules.current.targets.get(name)
            if target is None:
                errors.append(f"target {name!r} is not defined in {self.rules.path}")
                continue
            result = await self.deliver_to(target, alert)
            attempts += result.attempts
            if not result.delivered:
                errors.append(f"{name}: {result.last_error}")
        status = AlertStatus.FAILED if errors else AlertStatus.SENT
        last_error = "; ".join(errors) or None
        await mark(
            self.es,
            index,
            alert.alert_id,
            status=status,
            attempts=attempts,
            last_error=last_error,
            now=utc_now(),
        )
        if errors:
            return DeliveryError(
                f"alert {alert.alert_id} not delivered: {last_error}", retryable=False
            )
        return None

    async def deliver_to(self, target: Target, alert: Alert) -> DeliveryResult:
        if not target.url:
            return DeliveryResult(False, 0, None, f"target {target.name!r} has no URL; set it")
        body, headers = render_payload(target, alert, kibana_url=self.settings.kibana_url)
        headers = {**headers, "X-Newsstream-Alert-Id": alert.alert_id}
        secret = target.secret or str(self.settings.webhook_secret)

        def signed(attempt: int) -> dict[str, str]:
            return sign_headers(body, secret, timestamp=int(time.time())) if secret else {}

        return await deliver(
            self.http, target.url, body, headers, policy=self.policy, headers_for_attempt=signed
        )

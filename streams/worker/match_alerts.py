"""Stage match-alerts: ``articles.enriched`` → ``alerts``, one record per rule that fires."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.alerts import ArticleContext, RulesHolder, alerts_for
from streams.clock import utc_now
from streams.messages import dumps
from streams.worker.dlq import Origin
from streams.worker.enriched import DecodedArticle, decode_enriched
from streams.worker.produce import Output, Producer, publish


@dataclass(frozen=True)
class MatchAlertsStage:
    rules: RulesHolder
    producer: Producer
    output_topic: str
    decode_article: Callable[[Origin], DecodedArticle] = decode_enriched
    name: str = "match-alerts"
    decode_stage: str = "match-alerts"

    def article_id(self, value: ArticleContext) -> str | None:
        return value.article.id

    def decode(self, record: Origin) -> ArticleContext:
        # The record's JSON is the document Elasticsearch indexes: query-string rules
        # read it as it is instead of encoding the article again.
        decoded = self.decode_article(record)
        return ArticleContext(decoded.article, doc=decoded.document)

    async def handle(self, values: Sequence[ArticleContext]) -> list[Exception | None]:
        now, rules = utc_now(), self.rules.current
        outputs = [
            [
                Output(self.output_topic, alert.alert_id.encode(), dumps(alert))
                for alert in alerts_for(rules, article, now=now)
            ]
            for article in values
        ]
        return await publish(self.producer, outputs)

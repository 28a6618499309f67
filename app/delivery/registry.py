"""Which deliverer sends each kind of job, built from the settings, and which records track them.

A kind is named for what the message is, not how it travels, so each kind has one deliverer and
one meaning. A kind without a deliverer here (Slack not configured) is not claimed by the
worker; its jobs wait until a worker that has one runs.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from app.delivery.slack import SlackWebhook
from app.models import Feedback
from app.models.delivery import DeliveryTracked
from app.settings import Settings

# A feedback report posted to the team's Slack channel: payload {"text": <Slack text>}.
FEEDBACK_KIND = "feedback"

# Records whose delivery state the worker keeps up to date (joined on delivery_job_id).
TRACKED: Mapping[str, type[DeliveryTracked]] = {FEEDBACK_KIND: Feedback}


class Deliverer(Protocol):
    async def deliver(self, payload: dict[str, Any]) -> None:
        """Send one message; raise RetryLater (temporary) or DeliveryFailed (permanent)."""


def build_deliverers(settings: Settings) -> dict[str, Deliverer]:
    deliverers: dict[str, Deliverer] = {}
    if settings.SLACK_WEBHOOK_URL is not None:
        deliverers[FEEDBACK_KIND] = SlackWebhook(
            settings.SLACK_WEBHOOK_URL.get_secret_value(),
            timeout=settings.DELIVERY_TIMEOUT_SECONDS,
        )
    return deliverers

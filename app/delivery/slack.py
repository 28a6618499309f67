"""Slack incoming webhooks: text escaped for Slack, and the deliverer that posts it."""

import math
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.delivery.errors import DeliveryFailed, RetryLater
from app.models.base import utcnow

# Worth another try: rate limited, timed out, the server in trouble (5xx). Any other answer but
# 200 (a webhook revoked, its channel archived, the payload refused) will not change by waiting.
TEMPORARY_STATUSES = frozenset({408, 425, 429})


def slack_escape(text: str) -> str:
    """Text Slack shows literally: a user's `<!channel>` cannot ping anyone and `<url|label>`
    cannot forge a link (Slack's three control characters, escaped as its docs ask)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The wait a 429 or 503 asks for (seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - utcnow()).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


class SlackWebhook:
    """Posts `{"text": payload["text"]}` to one webhook; delivered means it answered 200."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._timeout = timeout

    async def deliver(self, payload: dict[str, Any]) -> None:
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            raise DeliveryFailed("no text to post")
        try:
            # A client per message: a few messages an hour do not need a kept connection, and
            # nothing is left open between tries or at shutdown.
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(self._url, json={"text": text})
        except httpx.HTTPError as exc:
            # The type only: the message of some of these names the URL, which is the secret.
            raise RetryLater(type(exc).__name__) from None
        status = response.status_code
        if status == 200:
            return
        reason = f"HTTP {status}"
        if status in TEMPORARY_STATUSES or status >= 500:
            raise RetryLater(reason, retry_after_seconds(response))
        raise DeliveryFailed(reason)

"""Business events: always a log line and a breadcrumb; a Sentry message only at a sampled rate.

The rate keeps a busy storefront from spending the Sentry quota while a sign-up still shows.
"""

import hashlib
import hmac
import logging
import random
from enum import StrEnum

from app.core.config import Settings
from app.core.logging import EVENTS_LOGGER
from app.core.sentry import Level, add_breadcrumb, capture_message_with_context

logger = logging.getLogger(EVENTS_LOGGER)


class BusinessEvent(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    USER_REGISTERED = "user.registered"
    PRODUCT_CREATED = "product.created"
    STOREFRONT_VIEWED = "storefront.viewed"


_MESSAGES = {
    BusinessEvent.LOGIN_SUCCEEDED: "Login succeeded",
    BusinessEvent.LOGIN_FAILED: "Login failed",
    BusinessEvent.USER_REGISTERED: "Vendor registered",
    BusinessEvent.PRODUCT_CREATED: "Product created",
    BusinessEvent.STOREFRONT_VIEWED: "Storefront viewed",
}
# A failed login is worth a look, never an error: the user typed a wrong password.
_LEVELS: dict[BusinessEvent, Level] = {BusinessEvent.LOGIN_FAILED: "warning"}
_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING}


class _Config:
    rates: dict[BusinessEvent, float] = dict.fromkeys(BusinessEvent, 0.0)
    fingerprint_key: bytes = b""


def configure_events(settings: Settings) -> None:
    """Take the Sentry sample rates and the fingerprint key from the settings."""
    _Config.rates = {
        BusinessEvent.LOGIN_SUCCEEDED: settings.login_event_rate,
        BusinessEvent.LOGIN_FAILED: settings.login_event_rate,
        BusinessEvent.USER_REGISTERED: settings.SENTRY_REGISTRATION_EVENT_RATE,
        BusinessEvent.PRODUCT_CREATED: settings.SENTRY_PRODUCT_EVENT_RATE,
        BusinessEvent.STOREFRONT_VIEWED: settings.storefront_event_rate,
    }
    _Config.fingerprint_key = settings.SECRET_KEY.encode()


def email_fingerprint(email: str) -> str:
    """A short keyed hash of an email: repeated failures show up, the address never does."""
    digest = hmac.new(_Config.fingerprint_key, email.strip().lower().encode(), hashlib.sha256)
    return digest.hexdigest()[:12]


def record_event(event: BusinessEvent, **data: str | int) -> None:
    """Log the event, leave a breadcrumb, and send it to Sentry at its sample rate."""
    level = _LEVELS.get(event, "info")
    message = _MESSAGES[event]
    logger.log(_LOG_LEVELS[level], message, extra={"event": event.value, **data})
    add_breadcrumb(message, category="business", level=level, data={"event": event.value, **data})
    rate = _Config.rates[event]
    if rate > 0 and random.random() < rate:  # noqa: S311 - sampling, not security
        capture_message_with_context(message, {"event": event.value, **data}, level=level)

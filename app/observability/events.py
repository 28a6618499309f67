"""Business events: always a log line and a breadcrumb; a Sentry message only at a sampled rate.

The rate keeps a busy storefront from spending the Sentry quota while a sign-up still shows.
"""

import hashlib
import hmac
import logging
import random
from enum import StrEnum

from app.observability.context import request_context
from app.observability.logging import EVENTS_LOGGER
from app.observability.sentry import Level, add_breadcrumb, capture_message_with_context
from app.settings import Settings

logger = logging.getLogger(EVENTS_LOGGER)


class BusinessEvent(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    USER_REGISTERED = "user.registered"
    PRODUCT_CREATED = "product.created"
    STOREFRONT_VIEWED = "storefront.viewed"
    PASSWORD_RESET_REQUESTED = "password_reset.requested"
    PASSWORD_RESET = "password_reset.completed"
    EMAIL_VERIFIED = "email.verified"
    EMAIL_CHANGE_REQUESTED = "email_change.requested"
    EMAIL_CHANGED = "email_change.completed"


_MESSAGES = {
    BusinessEvent.LOGIN_SUCCEEDED: "Login succeeded",
    BusinessEvent.LOGIN_FAILED: "Login failed",
    BusinessEvent.USER_REGISTERED: "Vendor registered",
    BusinessEvent.PRODUCT_CREATED: "Product created",
    BusinessEvent.STOREFRONT_VIEWED: "Storefront viewed",
    BusinessEvent.PASSWORD_RESET_REQUESTED: "Password reset requested",
    BusinessEvent.PASSWORD_RESET: "Password reset",
    BusinessEvent.EMAIL_VERIFIED: "Email verified",
    BusinessEvent.EMAIL_CHANGE_REQUESTED: "Email change requested",
    BusinessEvent.EMAIL_CHANGED: "Email changed",
}
# Written on the request's access line rather than a line of their own: one per shopper's view
# of a store, where a second JSON line cost about an eighth of the request (bench/cpu.py).
_ON_ACCESS_LINE = frozenset({BusinessEvent.STOREFRONT_VIEWED})
# A failed login is worth a look, never an error: the user typed a wrong password.
_LEVELS: dict[BusinessEvent, Level] = {BusinessEvent.LOGIN_FAILED: "warning"}
_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING}


class BusinessEvents:
    """Records business events at the Sentry sample rates of one app's settings."""

    def __init__(self, settings: Settings) -> None:
        self.rates = {
            BusinessEvent.LOGIN_SUCCEEDED: settings.login_event_rate,
            BusinessEvent.LOGIN_FAILED: settings.login_event_rate,
            BusinessEvent.USER_REGISTERED: settings.SENTRY_REGISTRATION_EVENT_RATE,
            BusinessEvent.PRODUCT_CREATED: settings.SENTRY_PRODUCT_EVENT_RATE,
            BusinessEvent.STOREFRONT_VIEWED: settings.storefront_event_rate,
            # Asked for by anyone, for any address, like a login attempt.
            BusinessEvent.PASSWORD_RESET_REQUESTED: settings.login_event_rate,
            BusinessEvent.PASSWORD_RESET: settings.SENTRY_REGISTRATION_EVENT_RATE,
            BusinessEvent.EMAIL_VERIFIED: settings.SENTRY_REGISTRATION_EVENT_RATE,
            BusinessEvent.EMAIL_CHANGE_REQUESTED: settings.SENTRY_REGISTRATION_EVENT_RATE,
            BusinessEvent.EMAIL_CHANGED: settings.SENTRY_REGISTRATION_EVENT_RATE,
        }
        self._fingerprint_key = settings.SECRET_KEY.encode()

    def email_fingerprint(self, email: str) -> str:
        """A short keyed hash of an email: repeated failures show up, the address never does."""
        normalised = email.strip().lower().encode()
        return hmac.new(self._fingerprint_key, normalised, hashlib.sha256).hexdigest()[:12]

    def record(self, event: BusinessEvent, **data: str | int) -> None:
        """Log the event (a storefront view on its request's access line), leave a breadcrumb,
        and send it to Sentry at its sample rate."""
        level = _LEVELS.get(event, "info")
        message = _MESSAGES[event]
        # One dict for the log line, the breadcrumb and the message: none of them changes it.
        fields: dict[str, str | int] = {"event": event.value, **data}
        ctx = request_context.get() if event in _ON_ACCESS_LINE else None
        if ctx is not None:
            # Its breadcrumb too is made only if an event of the request needs it.
            ctx.note_access_event(fields, message, level)
        else:
            logger.log(_LOG_LEVELS[level], message, extra=fields)
            add_breadcrumb(message, category="business", level=level, data=fields)
        rate = self.rates[event]
        if rate > 0 and random.random() < rate:  # noqa: S311 - sampling, not security
            capture_message_with_context(message, fields, level=level)

"""Delivery settings: the worker that sends what leaves the service (Slack, email)."""

from typing import Self

from pydantic import Field, model_validator

from app.settings.common import SettingsMixin

# Slack's, and most providers', answer to a slow request is no answer: ten seconds is plenty.
MAX_DELIVERY_TIMEOUT_SECONDS = 10.0


class DeliverySettings(SettingsMixin):
    # The worker runs inside every web process unless this is false; then `python -m app.worker`
    # must run as its own process (README, "Background delivery").
    DELIVERY_WORKER_IN_PROCESS: bool = True
    # Tries per message before it is given up (logged at ERROR, reported to Sentry once).
    DELIVERY_MAX_ATTEMPTS: int = Field(default=20, ge=1, le=1000)
    # One try's time limit (the HTTP call to Slack included).
    DELIVERY_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=MAX_DELIVERY_TIMEOUT_SECONDS)
    # Waits between tries double from the base up to the cap (a 429's Retry-After wins if longer).
    DELIVERY_BACKOFF_BASE_SECONDS: float = Field(default=1.0, gt=0)
    DELIVERY_BACKOFF_MAX_SECONDS: float = Field(default=30.0, gt=0)
    # An idle worker looks for due messages this often (a message queued by its own process
    # wakes it at once).
    DELIVERY_POLL_INTERVAL_SECONDS: float = Field(default=2.0, gt=0)
    # A claimed message belongs to its worker this long; if the worker dies it is tried again
    # after the lease, so the lease must outlast a try (at least twice the timeout).
    DELIVERY_LEASE_SECONDS: float = Field(default=60.0, gt=0)
    # Messages one worker claims and sends at once.
    DELIVERY_BATCH_SIZE: int = Field(default=5, ge=1, le=100)
    # Finished messages (sent, given up, expired) are deleted this many days later; the feedback
    # reports themselves stay.
    DELIVERY_RETENTION_DAYS: int = Field(default=7, ge=1)

    @model_validator(mode="after")
    def _check_delivery(self) -> Self:
        if self.DELIVERY_LEASE_SECONDS < 2 * self.DELIVERY_TIMEOUT_SECONDS:
            raise ValueError(
                "DELIVERY_LEASE_SECONDS must be at least twice DELIVERY_TIMEOUT_SECONDS, or a "
                "slow delivery could be claimed again while it is still being sent"
            )
        if self.DELIVERY_BACKOFF_BASE_SECONDS > self.DELIVERY_BACKOFF_MAX_SECONDS:
            raise ValueError(
                "DELIVERY_BACKOFF_BASE_SECONDS must not exceed DELIVERY_BACKOFF_MAX_SECONDS"
            )
        return self

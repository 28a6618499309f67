"""Sentry set-up and the small helpers routes use; every helper is a no-op without a DSN."""

from typing import Any, Literal

import sentry_sdk

from app.core.config import Settings

Level = Literal["fatal", "error", "warning", "info", "debug"]


def init_sentry(settings: Settings) -> bool:
    """Start the SDK once, before the app is built; False (and nothing done) without a DSN."""
    if not settings.SENTRY_DSN:
        return False
    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT or settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE or settings.RENDER_GIT_COMMIT,
        send_default_pii=False,
        include_local_variables=False,
    )
    return True


def set_user_context(user_id: str) -> None:
    sentry_sdk.set_user({"id": user_id})


def add_breadcrumb(
    message: str, category: str = "app", level: Level = "info", data: dict[str, Any] | None = None
) -> None:
    sentry_sdk.add_breadcrumb(message=message, category=category, level=level, data=data or {})

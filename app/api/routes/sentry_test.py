"""Endpoints an operator uses to check that errors and messages reach Sentry."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, status

from app.api.authentication import TokenDep
from app.api.deps import SessionDep, SettingsDep
from app.api.responses import errors
from app.observability.sentry import capture_message_with_context, set_user_context
from app.schemas.common import Message
from app.services.auth import resolve_token

router = APIRouter(prefix="/api/sentry", tags=["sentry"])


class SentryTestError(RuntimeError):
    """Raised on purpose by /api/sentry/test-error."""


def token_matches(sent: str | None, expected: str | None) -> bool:
    """Whether the header carries the token, compared as bytes in constant time.

    The server hands header values over decoded as latin-1, so any byte can arrive; encoding back
    gives exactly the bytes sent (a str comparison raised on anything outside ASCII).
    """
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("latin-1"), expected.encode("utf-8"))


async def require_test_access(
    settings: SettingsDep,
    token: Annotated[str | None, Header(alias="X-Sentry-Test-Token")] = None,
) -> None:
    """Open in development and staging; in production only with the right test token."""
    if settings.is_production and not token_matches(token, settings.SENTRY_TEST_TOKEN):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")


async def identify_caller(session: SessionDep, settings: SettingsDep, token: TokenDep) -> None:
    """A logged-in caller's user id goes on the test events, as on any real error."""
    if token is None:
        return
    auth = await resolve_token(session, settings, token=token.value)
    if auth is not None:
        set_user_context(auth.user.id)


class SentryMessageSent(Message):
    event_id: str | None


@router.get(
    "/test-error",
    dependencies=[Depends(require_test_access), Depends(identify_caller)],
    responses=errors(404, 500),
)
async def test_error() -> None:
    """Raise an unhandled error, which Sentry should record once."""
    raise SentryTestError("Sentry test error from /api/sentry/test-error")


@router.get(
    "/test-message",
    response_model=SentryMessageSent,
    dependencies=[Depends(require_test_access), Depends(identify_caller)],
    responses=errors(404, 500),
)
async def test_message() -> SentryMessageSent:
    """Send an info message to Sentry and return its event id."""
    event_id = capture_message_with_context("Sentry test message from /api/sentry/test-message")
    return SentryMessageSent(message="Test message sent to Sentry", event_id=event_id)

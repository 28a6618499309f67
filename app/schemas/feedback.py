"""The frontend's feedback call and its answers."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from app.domain.feedback import (
    MESSAGE_MAX_CHARS,
    MESSAGE_MIN_CHARS,
    URL_MAX_CHARS,
    client_timestamp_text,
)
from app.schemas.common import strip_text

THANK_YOU = "Thank you for your feedback! We've received it and will review it promptly."


class FeedbackReport(BaseModel):
    """Exactly what the frontend's feedback button sends."""

    message: Annotated[
        str,
        BeforeValidator(strip_text),
        Field(min_length=MESSAGE_MIN_CHARS, max_length=MESSAGE_MAX_CHARS),
    ]
    url: Annotated[str, Field(max_length=URL_MAX_CHARS, examples=["https://quickvendor.app/"])]
    timestamp: Annotated[
        str,
        AfterValidator(client_timestamp_text),
        Field(description="The client's clock; kept as text", examples=["2026-12-04T09:30:00Z"]),
    ]


class FeedbackAccepted(BaseModel):
    success: bool = True
    message: str = THANK_YOU


class FeedbackHealth(BaseModel):
    status: str = "ok"
    slack_configured: bool

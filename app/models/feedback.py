"""A feedback report sent from the frontend's feedback button, kept whether or not Slack got it."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.feedback import CLIENT_TIMESTAMP_MAX_CHARS, URL_MAX_CHARS
from app.models.base import Base, utcnow
from app.models.delivery import DeliveryTracked
from app.models.types import UTCDateTime


class Feedback(DeliveryTracked, Base):
    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(URL_MAX_CHARS))
    client_timestamp: Mapped[str] = mapped_column(String(CLIENT_TIMESTAMP_MAX_CHARS))
    # The vendor whose live session sent it; deleting the account unlinks the report.
    vendor_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

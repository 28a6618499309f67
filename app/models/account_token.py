"""A link sent by email (password reset, address verification, email change), kept only as the
SHA-256 of its token: the database never holds a token that works."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.types import UTCDateTime


class AccountToken(Base):
    __tablename__ = "account_tokens"
    __table_args__ = (
        # A vendor's live tokens of one kind: replaced when a newer one is issued.
        Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    # The address the link was sent to: it proves that inbox, and no other.
    email: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

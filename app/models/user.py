"""A vendor: one account, one store."""

from sqlalchemy import CheckConstraint, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, new_id


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are stored lower-cased, so the unique index is case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True, default=lambda: new_id("user"))
    email: Mapped[str] = mapped_column(String, unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String)
    whatsapp_number: Mapped[str] = mapped_column(String)
    store_name: Mapped[str | None] = mapped_column(String)
    store_slug: Mapped[str] = mapped_column(String, unique=True, index=True)
    banner_url: Mapped[str | None] = mapped_column(Text)
    # True once the vendor opened a link sent to this address; adopted vendors start unverified.
    email_verified: Mapped[bool] = mapped_column(default=False, server_default=false())

"""An old storefront link kept working after the adoption of the earlier backend's database.

The earlier backend served stores at `/store/<email local part>`; local parts hold characters a
slug cannot (dots, underscores) or collide once normalised, so the exact (lower-cased) link is kept
here and the storefront checks it before the normalised slug.
"""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class StoreAlias(Base):
    __tablename__ = "store_aliases"

    alias: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

"""The stored sizes of a photo: its original's dimensions, its WebP widths and its JPEG preview."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.types import UTCDateTime


class Photo(Base):
    __tablename__ = "photos"

    # The original's public URL, exactly as products.image_url_N or users.banner_url hold it.
    url: Mapped[str] = mapped_column(String, primary_key=True)
    width: Mapped[int]
    height: Mapped[int]
    # [{"width", "height", "url"}], ascending widths, none wider than the original.
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The link-preview JPEG; null when the original is too narrow for one.
    preview_url: Mapped[str | None] = mapped_column(String)
    preview_width: Mapped[int | None]
    preview_height: Mapped[int | None]
    preview_bytes: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )

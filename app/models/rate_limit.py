"""Rate-limit counters kept in the database when no Redis is configured."""

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"

    # A keyed hash (never an email or an address in clear) naming the limit and the client.
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    # Unix time in milliseconds: one integer compares the same on PostgreSQL and SQLite.
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)

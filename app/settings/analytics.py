"""Analytics settings: whether storefront traffic is counted, the day's time zone, the flushes."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from app.settings.common import SettingsMixin


class AnalyticsSettings(SettingsMixin):
    ANALYTICS_ENABLED: bool = True
    # The vendors' day: counts are kept per calendar day in this zone (Lagos has no DST).
    ANALYTICS_TIMEZONE: str = "Africa/Lagos"
    # Counts wait in each worker's memory this long before one batched write: at most this much
    # is lost when a process is killed (none on a normal shutdown).
    ANALYTICS_FLUSH_SECONDS: float = Field(default=5.0, gt=0, le=3600)

    @field_validator("ANALYTICS_TIMEZONE")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Africa/Lagos)") from None
        return value

    @property
    def analytics_zone(self) -> ZoneInfo:
        return ZoneInfo(self.ANALYTICS_TIMEZONE)

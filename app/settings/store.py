"""Store settings: the links the API hands out and how local phone numbers are read."""

from pydantic import Field, field_validator

from app.settings.common import SettingsMixin, strip_base_url


class StoreSettings(SettingsMixin):
    # Base of the store links the old frontend shows: <FRONTEND_URL>/store/<slug>.
    FRONTEND_URL: str = "http://localhost:3000"
    # Base of the links vendors share, this service's own store pages: <SHARE_BASE_URL>/s/<slug>
    # (also their canonical URL and og:url). Unset: the API's PUBLIC_BASE_URL.
    SHARE_BASE_URL: str | None = None
    # Country code given to local WhatsApp numbers written with a leading 0 (Nigeria: 234).
    DEFAULT_COUNTRY_CODE: str = Field(default="234", pattern=r"^[1-9][0-9]{0,2}$")
    # How long a public store read (storefront JSON, store page) may be reused. A change made
    # through the app is seen at once by every worker (PostgreSQL NOTIFY) and by its own
    # process; this is the bound for anything else. At most 1 second; 0 reads every time.
    STORE_CACHE_SECONDS: float = Field(default=0.5, ge=0, le=1)

    @field_validator("FRONTEND_URL")
    @classmethod
    def _strip_frontend(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("SHARE_BASE_URL")
    @classmethod
    def _strip_share_base(cls, value: str | None) -> str | None:
        return strip_base_url(value)

"""Order settings: how often shoppers may place orders, and when an unanswered order expires."""

from pydantic import Field

from app.domain.orders import DEFAULT_EXPIRY_DAYS
from app.settings.common import SettingsMixin


class OrderSettings(SettingsMixin):
    # Orders placed per client (an address, or its IPv6 /64) across all stores, and per client in
    # one store, in each window. There is no per-store budget: no client could use it up and
    # block a store's orders. Generous: many shoppers share a mobile carrier's address.
    ORDER_RATE_LIMIT_PER_CLIENT: int = Field(default=30, ge=1)
    ORDER_RATE_LIMIT_PER_STORE_CLIENT: int = Field(default=10, ge=1)
    ORDER_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=600, ge=1)
    # An order still `new` this many days after it was placed becomes `expired` at the next
    # maintenance round (0: at the next round).
    ORDER_EXPIRY_DAYS: int = Field(default=DEFAULT_EXPIRY_DAYS, ge=0)

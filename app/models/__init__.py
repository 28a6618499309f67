"""SQLAlchemy models; importing this package registers every table on `Base.metadata`."""

from app.models.account_token import AccountToken
from app.models.analytics import (
    AnalyticsDay,
    AnalyticsDayKey,
    AnalyticsProductDay,
    AnalyticsSourceDay,
    AnalyticsVisitor,
)
from app.models.base import Base
from app.models.delivery import DeliveryJob, JobStatus
from app.models.feedback import Feedback
from app.models.order import Order, OrderLine
from app.models.photo import Photo
from app.models.product import Product
from app.models.rate_limit import RateLimitCounter
from app.models.session import UserSession
from app.models.store_alias import StoreAlias
from app.models.user import User

__all__ = [
    "AccountToken",
    "AnalyticsDay",
    "AnalyticsDayKey",
    "AnalyticsProductDay",
    "AnalyticsSourceDay",
    "AnalyticsVisitor",
    "Base",
    "DeliveryJob",
    "Feedback",
    "JobStatus",
    "Order",
    "OrderLine",
    "Photo",
    "Product",
    "RateLimitCounter",
    "StoreAlias",
    "User",
    "UserSession",
]

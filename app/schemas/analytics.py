"""The vendor's storefront figures: totals, every day of the range, products and sources."""

import datetime as dt

from pydantic import BaseModel, Field

from app.schemas.common import MoneyOut


class Figures(BaseModel):
    views: int
    visitors: int
    product_views: int
    taps: int
    orders: int
    order_total: MoneyOut


class DayFigures(Figures):
    date: dt.date


class ProductFigures(BaseModel):
    id: str
    name: str
    views: int
    taps: int
    orders: int


class SourceFigures(BaseModel):
    source: str
    views: int
    visitors: int


class AnalyticsReport(BaseModel):
    start: dt.date = Field(serialization_alias="from")
    end: dt.date = Field(serialization_alias="to")
    timezone: str
    totals: Figures
    days: list[DayFigures]
    products: list[ProductFigures]
    sources: list[SourceFigures]

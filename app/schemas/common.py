"""Shapes shared by several responses: money and the one error body."""

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer

# Decimal() also reads "1_000", "١٢٣" (Arabic-Indic digits) and "Infinity"; a price typed into a
# form is plain ASCII digits with an optional decimal point (a minus sign is let through, so
# a negative price is told it must be greater than 0).
_PLAIN_DECIMAL = re.compile(r"-?([0-9]+(\.[0-9]+)?|\.[0-9]+)")


def _plain_decimal_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise ValueError("must be a number such as 1500 or 1999.99")
    return value


def money_to_json(value: Decimal) -> int | float:
    # The frontend reads prices as numbers; whole amounts stay integers (1500, not 1500.0).
    return int(value) if value == value.to_integral_value() else float(value)


MoneyOut = Annotated[Decimal, PlainSerializer(money_to_json, return_type=int | float)]
MoneyIn = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal_text),
    Field(gt=0, lt=10**10, decimal_places=2, allow_inf_nan=False, examples=["1500", "1999.99"]),
]


class ErrorBody(BaseModel):
    detail: str = Field(description="A human-readable explanation")
    request_id: str | None = Field(description="Quote it when reporting a problem")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    errors: list[ValidationIssue]


class Message(BaseModel):
    message: str


def strip_text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value

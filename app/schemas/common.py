"""Shapes shared by several responses: money and the one error body."""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer

from app.domain.money import money_to_json, plain_decimal_text

MoneyOut = Annotated[Decimal, PlainSerializer(money_to_json, return_type=int | float)]
MoneyIn = Annotated[
    Decimal,
    BeforeValidator(plain_decimal_text),
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

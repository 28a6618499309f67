"""Money as the API shows and reads it: exact decimals, plain digits, JSON numbers."""

import re
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
# Decimal() also reads "1_000", "١٢٣" (Arabic-Indic digits) and "Infinity"; a price typed into a
# form is plain ASCII digits with an optional decimal point (a minus sign is let through, so
# a negative price is told it must be greater than 0).
_PLAIN_DECIMAL = re.compile(r"-?([0-9]+(\.[0-9]+)?|\.[0-9]+)")


def plain_decimal_text(value: Any) -> Any:
    """Refuse text that is not a plain decimal number; other values pass unchanged."""
    if isinstance(value, str):
        value = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise ValueError("must be a number such as 1500 or 1999.99")
    return value


def money_to_json(value: Decimal) -> int | float:
    # The frontend reads prices as numbers; whole amounts stay integers (1500, not 1500.0).
    return int(value) if value == value.to_integral_value() else float(value)


def format_naira(value: Decimal) -> str:
    """`Decimal("12500")` -> `₦12,500.00`: how a price reads to a Nigerian shopper."""
    return f"₦{value.quantize(CENT):,.2f}"

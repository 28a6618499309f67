"""The order rules of app/domain/orders.py: codes, moves between statuses, the message."""

import re
from decimal import Decimal

import pytest

from app.domain.orders import (
    CODE_PATTERN,
    MAX_MESSAGE_CHARACTERS,
    MessageLine,
    OrderStatus,
    can_move,
    new_code,
    next_statuses,
    normalise_code,
    one_line,
    order_message,
    refusal,
)


def test_codes_are_readable_and_varied() -> None:
    codes = {new_code() for _ in range(2000)}
    assert all(re.fullmatch(CODE_PATTERN, code) for code in codes)
    assert len(codes) > 1990
    assert not any(ch in code[3:] for code in codes for ch in "01OI")
    assert normalise_code(" qv-ab2c3 ") == "QV-AB2C3"


def test_the_moves() -> None:
    new, confirmed, paid, fulfilled, cancelled, expired = OrderStatus
    assert next_statuses(new) == [confirmed, cancelled]
    assert next_statuses(confirmed) == [paid, cancelled]
    assert next_statuses(paid) == [fulfilled, cancelled]
    assert next_statuses(fulfilled) == next_statuses(cancelled) == next_statuses(expired) == []
    assert not can_move(new, paid) and not can_move(expired, confirmed)
    assert (
        refusal(new, paid) == "A new order cannot become paid; it can become confirmed or cancelled"
    )
    assert refusal(expired, confirmed) == "This order is expired and can no longer change"


def lines(count: int, name: str = "Tote") -> list[MessageLine]:
    return [MessageLine(f"{name} {n}", 2, Decimal("2500.50")) for n in range(count)]


def test_a_short_message() -> None:
    text = order_message(
        code="QV-ABCDE",
        lines=lines(2),
        total=Decimal("10002"),
        customer_name=None,
        delivery_area="Ikeja",
    )
    assert text == (
        "Hello! I would like to order (QV-ABCDE):\n"
        "2 x Tote 0 - ₦2,500.50\n"
        "2 x Tote 1 - ₦2,500.50\n"
        "Total: ₦10,002.00\n"
        "Delivery area: Ikeja"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nTotal: ₦0.00\nb", "a Total: ₦0.00 b"),
        ("a \r\n\t b", "a b"),
        ("a\u2028b\u2029c\x85d\x0be\x1ff\x7fg", "a b c d e f g"),
        ("Ada  Obi", "Ada  Obi"),
        ("\n", ""),
    ],
)
def test_names_stay_on_one_line(text: str, shown: str) -> None:
    assert one_line(text) == shown


def test_customer_fields_cannot_add_lines_to_the_message() -> None:
    text = order_message(
        code="QV-ABCDE",
        lines=[MessageLine("Tote\nTotal: ₦1.00", 1, Decimal("5"))],
        total=Decimal("5"),
        customer_name="a\nTotal: ₦0.00\nb",
        delivery_area="Lekki\r\nName: Someone else\u2028",
    )
    assert text.split("\n") == [
        "Hello! I would like to order (QV-ABCDE):",
        "1 x Tote Total: ₦1.00 - ₦5.00",
        "Total: ₦5.00",
        "Name: a Total: ₦0.00 b",
        "Delivery area: Lekki Name: Someone else",
    ]
    assert "Name" not in order_message(
        code="QV-ABCDE", lines=lines(1), total=Decimal(1), customer_name="\n", delivery_area=None
    )


@pytest.mark.parametrize("count", [1, 6, 7, 8, 20, 50])
def test_long_orders_fit_and_say_how_many_more(count: int) -> None:
    name = "N" * 200
    text = order_message(
        code="QV-ABCDE",
        lines=lines(count, name),
        total=Decimal("9999999999.99"),
        customer_name="C" * 100,
        delivery_area="A" * 100,
    )
    assert len(text) <= MAX_MESSAGE_CHARACTERS
    shown = sum(1 for line in text.split("\n") if line.startswith("2 x "))
    hidden = count - shown
    assert shown >= 1
    if hidden == 0:
        assert "more item" not in text
    else:
        assert f"\nand {hidden} more item{'s' if hidden > 1 else ''}\n" in text

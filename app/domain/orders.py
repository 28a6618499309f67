"""Rules of an order: its code, its statuses and the WhatsApp message that carries it."""

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.money import format_naira
from app.domain.whatsapp import wa_me_url

# No 0/O, 1/I: a code is read out and typed back by people.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_PREFIX = "QV-"
CODE_LENGTH = 5
CODE_PATTERN = rf"^{CODE_PREFIX}[2-9A-HJ-NP-Z]{{{CODE_LENGTH}}}$"

MAX_LINES = 50
MAX_QUANTITY = 99
MAX_MESSAGE_CHARACTERS = 1500
CURRENCY = "NGN"
# An order left new this long was not taken up: it expires.
DEFAULT_EXPIRY_DAYS = 14
# The largest amount a NUMERIC(12,2) column holds.
MAX_AMOUNT = Decimal("9999999999.99")


class OrderStatus(StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_NEXT: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.FULFILLED, OrderStatus.CANCELLED}),
    OrderStatus.FULFILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}
# The statuses whose order holds stock taken at confirmation.
HOLDS_STOCK = frozenset({OrderStatus.CONFIRMED, OrderStatus.PAID})


# Control characters (C0, DEL, C1 with NEL) and the Unicode line and paragraph separators: in a
# name they would start lines of their own in the message, such as a fake "Total: ₦0.00".
_CONTROL = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_BREAKS = re.compile(rf"[\s{_CONTROL}]*[{_CONTROL}][\s{_CONTROL}]*")


def one_line(text: str) -> str:
    """The text on one line: each run of control characters and line breaks (with the spaces
    around it) as one space."""
    return _BREAKS.sub(" ", text).strip()


def new_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A code as a person may type it back (`qv-abc23`, ` QV-ABC23 `)."""
    return text.strip().upper()


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in _NEXT[current]


def next_statuses(current: OrderStatus) -> list[OrderStatus]:
    """Where an order in `current` may go, in the order of the statuses."""
    return [status for status in OrderStatus if status in _NEXT[current]]


def refusal(current: OrderStatus, target: OrderStatus) -> str:
    """Why an order in `current` cannot become `target`, for the vendor to read."""
    allowed = next_statuses(current)
    if not allowed:
        return f"This order is {current} and can no longer change"
    return f"A {current} order cannot become {target}; it can become " + " or ".join(allowed)


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    # Exact: a two-decimal price times a whole number has two decimals.
    return unit_price * quantity


@dataclass(frozen=True, slots=True)
class MessageLine:
    name: str
    quantity: int
    line_total: Decimal


def order_message(
    *,
    code: str,
    lines: Sequence[MessageLine],
    total: Decimal,
    customer_name: str | None,
    delivery_area: str | None,
) -> str:
    """The text the shopper sends: the code, each line with its total, the total, who and where;
    at most MAX_MESSAGE_CHARACTERS, the later lines summed up as "and N more items". Names and
    the area are put on one line each (`one_line`): none can add a line of its own."""
    head = f"Hello! I would like to order ({code}):"
    tail = [f"Total: {format_naira(total)}"]
    if customer_name and (name := one_line(customer_name)):
        tail.append(f"Name: {name}")
    if delivery_area and (area := one_line(delivery_area)):
        tail.append(f"Delivery area: {area}")
    texts = [
        f"{line.quantity} x {one_line(line.name)} - {format_naira(line.line_total)}"
        for line in lines
    ]

    def assemble(shown: list[str], hidden: int) -> str:
        more = [f"and {hidden} more item{'s' if hidden != 1 else ''}"] if hidden else []
        return "\n".join([head, *shown, *more, *tail])

    shown: list[str] = []
    for number, text in enumerate(texts):
        hidden = len(texts) - number - 1
        if len(assemble([*shown, text], hidden)) > MAX_MESSAGE_CHARACTERS:
            break
        shown.append(text)
    # The head and the tail are bounded (a name and an area of at most 100 characters each),
    # so even with no line shown the message fits.
    return assemble(shown, len(texts) - len(shown))


def order_link(vendor_digits: str, message: str) -> str:
    return wa_me_url(vendor_digits, message)

"""The shopper-facing text rules: prices as a Nigerian shopper reads them, wa.me links."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from app.domain.money import format_naira
from app.domain.whatsapp import wa_me_url


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("12500", "₦12,500.00"),
        ("0.5", "₦0.50"),
        ("1999.99", "₦1,999.99"),
        ("1234567.8", "₦1,234,567.80"),
    ],
)
def test_prices_read_as_naira(amount: str, text: str) -> None:
    assert format_naira(Decimal(amount)) == text


def test_wa_me_text_survives_reserved_characters() -> None:
    message = "2 x Tote & bag - ₦25,000.00\nTotal #1 ?yes=no+50%"
    url = wa_me_url("2348012345678", message)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/2348012345678")
    assert parse_qs(parts.query)["text"] == [message]
    assert "&" not in parts.query and "#" not in url

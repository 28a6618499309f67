"""WhatsApp numbers, stored as the digits a `wa.me/<digits>` link needs."""

import re

MIN_DIGITS = 10
MAX_DIGITS = 15
_ALLOWED = re.compile(r"^\+?[0-9 ().\-]+$")


def check_whatsapp_characters(raw: str) -> str:
    """The number as typed, if it holds only what a phone number is written with."""
    if not _ALLOWED.fullmatch(raw.strip()):
        raise ValueError("must contain only digits, spaces, dashes, brackets and a leading +")
    return raw


def normalise_whatsapp(raw: str, default_country_code: str) -> str:
    """`+234 801-234-5678` -> `2348012345678`; a local `0801...` gets the default country code."""
    text = check_whatsapp_characters(raw).strip()
    digits = re.sub(r"[^0-9]", "", text)
    if not text.startswith("+"):
        if digits.startswith("00"):
            digits = digits[2:]
        elif digits.startswith("0"):
            digits = default_country_code + digits[1:]
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise ValueError(
            f"must have {MIN_DIGITS} to {MAX_DIGITS} digits including the country code"
        )
    return digits

"""Personal data and secrets that must never leave the service, found by their shape in free text.

Used on every log line and every Sentry event, after the key-based scrubbing: an email pasted into
an error message or a token echoed in a URL is caught here whatever field it ended up in.
"""

import re

FILTERED = "[Filtered]"

# Also URL-encoded (%40), as it appears in a logged or reported query string.
_EMAIL = r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# A JWT, or whatever follows "Bearer".
_JWT = r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
_BEARER = r"(?i:\bbearer\s+)[^\s\"',;]+"
# A long random-looking secret: base64url of 32+ characters mixing upper case, lower case and
# digits. Our ids and request ids are lower-case hex, so they survive.
_B64 = "[A-Za-z0-9_-]"
_OPAQUE = rf"(?<!{_B64})(?={_B64}*[A-Z])(?={_B64}*[a-z])(?={_B64}*[0-9]){_B64}{{32,}}(?!{_B64})"
# A phone number: 10 to 15 digits, bare or written with a leading + and separators.
_PHONE = r"(?<![\w.])\+?\d(?:[ ()-]{0,2}\d){9,14}(?![\w.])"

SENSITIVE = re.compile("|".join(f"(?:{p})" for p in (_EMAIL, _JWT, _BEARER, _OPAQUE, _PHONE)))
# Something each pattern above needs (an @, a JWT's start, "bearer", ten digits; a long run of
# characters with an upper-case letter somewhere): most text, our lower-case hex ids included,
# has none of them, and these are several times cheaper to look for.
_CANDIDATE = re.compile(r"@|%40|eyJ|(?i:bearer)|\d(?:[ ()-]{0,2}\d){9}")
_LONG_RUN = re.compile(rf"{_B64}{{32}}")
_UPPER = re.compile("[A-Z]")


def redact_text(text: str) -> str:
    """The text with every email, token and phone number replaced by `[Filtered]`."""
    if _CANDIDATE.search(text) is None and (
        _UPPER.search(text) is None or _LONG_RUN.search(text) is None
    ):
        return text
    return SENSITIVE.sub(FILTERED, text)

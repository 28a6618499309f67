"""Personal data and secrets that must never leave the service, found by their shape in free text.

Used on every log line and every Sentry event, after the key-based scrubbing: an email pasted into
an error message or a token echoed in a URL is caught here whatever field it ended up in.

Clients choose much of this text (a User-Agent, a query string), so the search is linear in its
input and bounded: every pattern starts only where a run of its characters starts and never gives
back what a possessive quantifier took, so no input makes the engine retry a run from each of its
positions; and a value longer than MAX_TEXT is cut to its head and tail before matching.
"""

import re
import string

FILTERED = "[Filtered]"
# Longer values keep their first HEAD and last TAIL characters (the end of a traceback is its
# most useful part); the partial item at each cut is dropped with up to EDGE characters around it.
MAX_TEXT = 16_384
HEAD = 12_288
TAIL = 4_096
# Longer than any email address (254) or phone number; a longer token is caught by what is left.
EDGE = 320

# An email, also URL-encoded (%40), as it appears in a logged or reported query string. It starts
# where a run of local-part characters starts, and the local part stops at the first @ or %40.
_LOCAL = "A-Za-z0-9._%+-"
_EMAIL = (
    rf"(?<![{_LOCAL}])(?:[A-Za-z0-9._+-]|%(?!40))++(?:@|%40)"
    r"(?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,}+"
)
# A JWT (a run of base64url holding "eyJ" and two more dot-separated runs), or whatever follows
# "Bearer". The whole first run is taken, so a prefix glued to the token goes with it.
_B64 = "[A-Za-z0-9_-]"
_JWT = rf"(?<!{_B64})(?={_B64}*?eyJ){_B64}++\.{_B64}++\.{_B64}*+"
_BEARER = r"(?i:\bbearer\s++)[^\s\"',;]++"
# A long random-looking secret: base64url of 32+ characters mixing upper case, lower case and
# digits. Our ids and request ids are lower-case hex, so they survive.
_OPAQUE = rf"(?<!{_B64})(?={_B64}*?[A-Z])(?={_B64}*?[a-z])(?={_B64}*?[0-9]){_B64}{{32,}}+(?!{_B64})"
# A phone number: 10 to 15 digits, bare or written with a leading + and separators.
_PHONE = r"(?<![\w.])\+?\d(?:[ ()-]{0,2}+\d){9,14}(?![\w.])"

SENSITIVE = re.compile("|".join(f"(?:{p})" for p in (_EMAIL, _JWT, _BEARER, _OPAQUE, _PHONE)))
# Something each pattern above needs (an @, a JWT's start, "bearer", ten digits; a long run of
# characters with an upper-case letter somewhere): most text, our lower-case hex ids included,
# has none of them, and these are several times cheaper to look for.
_CANDIDATE = re.compile(r"@|%40|eyJ|(?i:bearer)|\d(?:[ ()-]{0,2}+\d){9}")
_LONG_RUN = re.compile(rf"(?<!{_B64}){_B64}{{32}}")
_UPPER = re.compile("[A-Z]")
# What a sensitive item is made of: at a cut, a run of these may be a piece of one, too short to
# be recognised any more, and is dropped (up to EDGE characters of it).
_PIECE = string.ascii_letters + string.digits + "_.%+@()- "
# Texts found clean, remembered: the same ones come back on every event (a route, a statement,
# a User-Agent, a level), and searching them was most of a message event's cost (callgrind, as
# bench/instructions.py counts). Only clean texts, so nothing sensitive is kept; short ones,
# dropped all at once when there are too many.
CLEAN_TEXTS_KEPT = 2048
CLEAN_TEXT_MAX = 256
_clean_texts: set[str] = set()


def _cut(text: str) -> str:
    head = text[: HEAD - EDGE] + text[HEAD - EDGE : HEAD].rstrip(_PIECE)
    tail = text[-TAIL : EDGE - TAIL].lstrip(_PIECE) + text[EDGE - TAIL :]
    return f"{head}[{len(text) - len(head) - len(tail)} characters cut]{tail}"


def redact_text(text: str) -> str:
    """The text with every email, token and phone number replaced by `[Filtered]`; a text over
    MAX_TEXT characters is cut to its head and tail first."""
    if text in _clean_texts:
        return text
    if len(text) > MAX_TEXT:
        text = _cut(text)
    if _CANDIDATE.search(text) is None and (
        _UPPER.search(text) is None or _LONG_RUN.search(text) is None
    ):
        _remember_clean(text)
        return text
    redacted = SENSITIVE.sub(FILTERED, text)
    if redacted == text:
        _remember_clean(text)
    return redacted


def _remember_clean(text: str) -> None:
    if len(text) <= CLEAN_TEXT_MAX:
        if len(_clean_texts) >= CLEAN_TEXTS_KEPT:
            _clean_texts.clear()
        _clean_texts.add(text)

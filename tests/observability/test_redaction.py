"""The shape-based redaction: its cheap pre-check never lets through what the full one catches,
and no input makes it slower than linear or lets a long value through uncut."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.observability.redaction import (
    CLEAN_TEXTS_KEPT,
    FILTERED,
    HEAD,
    MAX_TEXT,
    SENSITIVE,
    TAIL,
    redact_text,
)
from app.observability.sentry import SENSITIVE_KEYS_SEEN, before_send

# Characters the patterns are made of, so generated text often comes close to a match.
PIECES = st.sampled_from(
    ["@", "%40", ".", "-", "_", " ", "(", ")", "+", "eyJ", "Bearer ", "bEaReR\t", "com", "ng"]
)
TEXT = st.lists(
    st.one_of(
        PIECES,
        st.text(alphabet="aZ09xY-_", min_size=1, max_size=40),
        st.text(alphabet="ab0139-_", min_size=1, max_size=40),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(TEXT)
def test_redaction_matches_the_full_patterns(text: str) -> None:
    assert redact_text(text) == SENSITIVE.sub(FILTERED, text)


def test_each_kind_is_still_redacted() -> None:
    samples = {
        "mail ada.obi@example.com now": "mail [Filtered] now",
        "q=ada%40example.com": "q=[Filtered]",
        "call +234 803 123 4567 today": "call [Filtered] today",
        "Authorization: Bearer abc.def": "Authorization: [Filtered]",
        "t=eyJhbGciOi.eyJzdWIi.sig": "t=[Filtered]",
        "key AbCdEfGhIjKlMnOpQrStUvWxYz012345 end": "key [Filtered] end",
        "user_0123456789abcdef0123456789abcdef 200 3.1ms": (
            "user_0123456789abcdef0123456789abcdef 200 3.1ms"
        ),
    }
    for text, expected in samples.items():
        assert redact_text(text) == expected, text


def test_texts_seen_before_are_redacted_as_the_first_time() -> None:
    # Clean texts are remembered (the same ones come back on every event); a sensitive one
    # must be searched every time, and a clean one stay clean once the memory is full.
    clean = "GET /api/store/{identifier} 200"
    sensitive = {
        "mail ada.obi@example.com now": "mail [Filtered] now",
        "key AbCdEfGhIjKlMnOpQrStUvWxYz012345 end": "key [Filtered] end",
    }
    for _ in range(3):
        assert redact_text(clean) == clean
        for text, expected in sensitive.items():
            assert redact_text(text) == expected
    for number in range(CLEAN_TEXTS_KEPT + 10):
        assert redact_text(f"seen {number}") == f"seen {number}"
    assert redact_text(clean) == clean
    for text, expected in sensitive.items():
        assert redact_text(text) == expected


def test_sensitive_keys_seen_before_are_filtered_as_the_first_time() -> None:
    # Whether a key is sensitive is remembered (an event's keys repeat); a remembered key must
    # still be filtered, and so must one asked again after the memory was filled past its bound.
    def details() -> dict[str, object]:
        event = before_send(
            {"contexts": {"details": {"Password": "hunter2", "note": "call me", "shop": "ada"}}},
            {},
        )
        assert event is not None
        return dict(event["contexts"]["details"])

    expected = {"Password": FILTERED, "note": FILTERED, "shop": "ada"}
    for _ in range(3):
        assert details() == expected
    for number in range(SENSITIVE_KEYS_SEEN + 10):
        before_send({"extra": {f"field{number}": "value"}}, {})
    assert details() == expected


# Inputs that made the earlier patterns retry a run from each of its positions: quadratic, so
# 16,000 digits took a second and these would take minutes.
HOSTILE = {
    "digits": "1" * 200_000,
    "letters then an @": "x@" + "1" * 200_000,
    "url-encoded @s": "a%40" * 50_000,
    "dotted domain": "a@" + "b." * 100_000,
    "JWT starts": "-eyJ" * 50_000,
    "mixed base64": "aA1-" * 50_000,
    "bearer and tabs": ("bearer" + "\t" * 50) * 4_000,
    "short runs": ("aA1" * 10 + "a!") * 6_000,
}
# A hang guard, not a benchmark: linear matching takes tens of milliseconds here.
HANG_BOUND = 3.0


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_matching_is_linear_in_the_input(name: str) -> None:
    started = time.process_time()
    SENSITIVE.sub(FILTERED, HOSTILE[name])
    assert time.process_time() - started < HANG_BOUND


def test_long_values_are_cut_before_matching() -> None:
    text = "1" * 1_000_000
    started = time.process_time()
    redacted = redact_text(text)
    assert time.process_time() - started < HANG_BOUND
    assert len(redacted) <= MAX_TEXT + 40
    assert "characters cut]" in redacted


def test_a_cut_never_leaves_part_of_an_item_behind() -> None:
    email, phone, end = "ada.obi@example.com", "+234 803 123 4567", "\nValueError: boom"
    # The email straddles the end of the kept head, the phone the start of the kept tail.
    head = "x" * (HEAD - 8) + " " + email + " "
    tail = phone + " " + "z" * (TAIL - 9 - len(end)) + end
    text = head + "y " * 20_000 + tail
    redacted = redact_text(text)
    for piece in ("ada.obi", "ada.o", "4567", "123"):
        assert piece not in redacted
    assert redacted.startswith("x" * 1000)
    assert redacted.endswith("z" * 1000 + end)

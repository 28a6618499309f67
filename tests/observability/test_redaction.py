"""The shape-based redaction: its cheap pre-check never lets through what the full one catches."""

from hypothesis import given, settings
from hypothesis import strategies as st

from app.observability.redaction import FILTERED, SENSITIVE, redact_text

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

"""What a feedback report may hold."""

MESSAGE_MIN_CHARS = 3
MESSAGE_MAX_CHARS = 5000
URL_MAX_CHARS = 2048
# The client's clock as it sent it: shown, never parsed as a rule, so only its start is kept.
CLIENT_TIMESTAMP_MAX_CHARS = 100


def client_timestamp_text(value: str) -> str:
    """An unparsable timestamp is kept as text (never an error); an absurdly long one, cut."""
    return value[:CLIENT_TIMESTAMP_MAX_CHARS]

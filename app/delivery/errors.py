"""What a deliverer raises when a message could not be sent.

The names are the contract every deliverer codes to, hence no `Error` suffix.
"""


class RetryLater(Exception):  # noqa: N818 - contract name
    """A temporary failure (server down, 5xx, 429): try again, no sooner than `after_seconds`
    when the other side said so (Retry-After)."""

    def __init__(self, reason: str, after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_seconds = after_seconds


class DeliveryFailed(Exception):  # noqa: N818 - contract name
    """A permanent failure (the webhook is gone, the payload is refused): no use trying again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

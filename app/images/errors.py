"""Why an image was refused, or could not be processed now; the messages are for the client."""


class ImageRejectedError(ValueError):
    """The upload is not an image we accept (400); the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImageTooLargeError(ImageRejectedError):
    """More pixels than may be decoded within the memory one decode is allowed (413)."""


class ImageTooComplexError(ImageRejectedError):
    """A well-formed image that would cost far more CPU than a photo needs (422)."""


class ImagesBusyError(Exception):
    """Every decode slot stayed taken for the whole wait: the client should retry (503)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"image decoding busy, retry after {retry_after}s")
        self.retry_after = retry_after

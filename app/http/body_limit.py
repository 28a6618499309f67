"""Request body size limits, enforced before the body is read whole.

Every body is held to the default (JSON_MAX_BYTES), whatever the route; only a multipart form sent
to a route that takes photos gets that route's larger limit. So a JSON or urlencoded body is never
read, let alone parsed on the event loop, past the small limit, even on a photo route.

A declared Content-Length over the limit is answered 413 at once, without reading a byte; a
body sent without one (chunked) is counted as it streams and cut off at the limit.
"""

import re
from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import answer

TOO_LARGE = "Request body too large"
# The one kind of body that may carry photos.
PHOTO_FORM_TYPE = "multipart/form-data"


class BodyTooLargeError(HTTPException):
    """Raised from `receive` so the route's error handling answers it in the usual shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"{TOO_LARGE} (limit {limit} bytes)")


def media_type(content_type: str) -> str:
    """`multipart/form-data` of `Multipart/Form-Data; boundary=x`."""
    return content_type.split(";", 1)[0].strip().lower()


def limited_receive(receive: Receive, limit: int, too_large: Callable[[], Exception]) -> Receive:
    """`receive` that raises `too_large()` as soon as the body passes `limit` bytes."""
    received = 0

    async def counted_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large()
        return message

    return counted_receive


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, default: int, larger: Sequence[tuple[re.Pattern[str], int]] = ()
    ) -> None:
        self.app = app
        self.default = default
        self.larger = larger

    def limit_for(self, path: str, content_type: str) -> int:
        """The larger limit for a photo form on a photo route; the default for anything else."""
        if media_type(content_type) != PHOTO_FORM_TYPE:
            return self.default
        for pattern, limit in self.larger:
            if pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope["path"], headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # An HTML page on the HTML paths (a store page's order form), JSON elsewhere.
            response = answer(
                Request(scope), 413, BodyTooLargeError(limit).detail, {"Connection": "close"}
            )
            await response(scope, receive, send)
            return
        receive = limited_receive(receive, limit, lambda: BodyTooLargeError(limit))
        await self.app(scope, receive, send)

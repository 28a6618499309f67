"""HEAD answered as GET without the body, on every GET route, the fast ones included.

FastAPI routes answer only the methods they declare, so a HEAD (a link checker, a monitor, a
cache revalidating) got 405. The request goes in as a GET and its answer comes out with the same
status and headers (Content-Length, ETag included) and no body.

The server's own scope keeps HEAD (uvicorn reads it to send no body), so the layers inside see a
copy; REQUESTED_METHOD in that copy lets the access log name what the client sent.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTED_METHOD = "quickvendor.requested_method"


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET", REQUESTED_METHOD: "HEAD"}
        await self.app(as_get, receive, send_without_body)

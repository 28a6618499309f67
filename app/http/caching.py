"""HTTP caching: strong ETags and conditional GETs for public JSON, no-store for credentials.

A public response's ETag is a hash of exactly what the client receives (body and the headers
that describe it), so any change to the store or its products changes it at once.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Caches may keep a copy but must ask before every reuse; the ETag makes asking cheap (304).
PUBLIC_REVALIDATE = "public, max-age=0, must-revalidate"
PRIVATE_NO_STORE = "private, no-store"
JSON = "application/json"


def strong_etag(body: bytes, headers: Mapping[str, str] | None = None) -> str:
    digest = hashlib.blake2b(body, digest_size=16)
    for name, value in sorted((headers or {}).items()):
        digest.update(f"\n{name}:{value}".encode())
    return f'"{digest.hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: `W/"x"` matches `"x"`; `*` matches anything."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@dataclass(frozen=True, slots=True)
class PublicJson:
    """A public JSON body with its headers, ETag included: built once, answered many times."""

    body: bytes
    etag: str
    headers: Mapping[str, str]


def public_json(body: bytes, headers: Mapping[str, str] | None = None) -> PublicJson:
    etag = strong_etag(body, headers)
    return PublicJson(
        body, etag, {**(headers or {}), "ETag": etag, "Cache-Control": PUBLIC_REVALIDATE}
    )


def revalidated(if_none_match: str | None, answer: PublicJson) -> Response:
    """The JSON body, or a bodiless 304 when the client already holds it."""
    if etag_matches(if_none_match, answer.etag):
        return Response(status_code=304, headers=dict(answer.headers))
    return Response(answer.body, media_type=JSON, headers=dict(answer.headers))


class NoStoreForCredentialsMiddleware:
    """Every answer to a request carrying a token (header or cookie), errors included, is
    `private, no-store`: no shared cache or browser history keeps a vendor's data."""

    def __init__(self, app: ASGIApp, cookie_name: str) -> None:
        self.app = app
        self.cookie_name = cookie_name

    def _has_credentials(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return True
            if name == b"cookie" and self.cookie_name in cookie_parser(value.decode("latin-1")):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._has_credentials(scope):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = PRIVATE_NO_STORE
            await send(message)

        await self.app(scope, receive, send_no_store)

"""The middleware stack as one list, outermost first, and the routes that take photo forms.

Every layer is pure ASGI and sits outside Starlette's server-error handler, so a 500 still carries
the security headers, the request id, the timing headers and the CORS headers.
"""

import re
from collections.abc import Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from app.http.addresses import ClientFingerprints
from app.http.body_limit import BodyLimitMiddleware
from app.http.caching import NoStoreForCredentialsMiddleware
from app.http.cors import JSONCORSMiddleware
from app.http.head import HeadAsGetMiddleware
from app.http.proxies import ClientAddressMiddleware, TrustedProxies
from app.http.request_context import RequestContextMiddleware
from app.http.security_headers import SecurityHeadersMiddleware
from app.http.slashes import TrailingSlashMiddleware
from app.settings import Settings

EXPOSED_HEADERS = ["X-Total-Count", "X-Request-ID", "Retry-After", "ETag"]


def takes_files(route: BaseRoute) -> bool:
    """Whether the route documents a multipart body with a file in it (a photo form)."""
    extra: dict[str, Any] = getattr(route, "openapi_extra", None) or {}
    content = extra.get("requestBody", {}).get("content", {})
    properties = content.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
    return any(field.get("format") == "binary" for field in properties.values())


def photo_form_paths(routes: Sequence[BaseRoute]) -> list[re.Pattern[str]]:
    """The path patterns of the routes that take photos: only a multipart form sent to one of them
    gets the form body limit (a JSON body there is held to JSON_MAX_BYTES like anywhere else)."""
    contexts = iter_route_contexts(routes)
    return [context.path_regex for context in contexts if takes_files(context.original_route)]


def middleware(settings: Settings, routes: Sequence[BaseRoute]) -> list[Middleware]:
    """Every layer around the app, outermost first."""
    hsts = settings.hsts_max_age
    proxies = TrustedProxies(settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_EXTRA_HOPS)
    larger = [(path, settings.PRODUCT_FORM_MAX_BYTES) for path in photo_form_paths(routes)]
    return [
        Middleware(HeadAsGetMiddleware),
        Middleware(SecurityHeadersMiddleware, hsts_max_age=hsts),
        Middleware(TrailingSlashMiddleware),
        Middleware(RequestContextMiddleware, fingerprints=ClientFingerprints(settings.SECRET_KEY)),
        Middleware(ClientAddressMiddleware, proxies=proxies),
        Middleware(NoStoreForCredentialsMiddleware, cookie_name=settings.COOKIE_NAME),
        Middleware(
            JSONCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "If-None-Match"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        ),
        Middleware(BodyLimitMiddleware, default=settings.JSON_MAX_BYTES, larger=larger),
    ]


def wrap(app: ASGIApp, layers: Sequence[Middleware]) -> ASGIApp:
    """`app` inside `layers`, the first of them outermost."""
    for cls, args, kwargs in reversed(layers):
        app = cls(app, *args, **kwargs)
    return app

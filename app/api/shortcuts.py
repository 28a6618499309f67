"""The hottest GET routes' common case, served without FastAPI's per-request machinery.

FastAPI's routing, parameter validation and call wrapping cost about 150 µs a request on this
machine, more than the storefront's query (bench/cpu.py). For each endpoint listed in
`install_shortcuts`, a plain Starlette route placed ahead of the FastAPI one takes a GET whose
path values and `limit`/`offset` are plainly valid and calls the same endpoint function with
the values FastAPI would have passed. Anything else (another method, an over-long path value, a
`limit` that is not plain digits in range, a repeated parameter) falls through to the FastAPI
route, which documents the endpoint and validates it in full, 422s included.
"""

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from annotated_types import MaxLen
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match, Route
from starlette.types import Scope

from app.api.deps import DEFAULT_LIMIT, MAX_OFFSET, MAX_PAGE_SIZE, oauth2_scheme

Endpoint = Callable[..., Awaitable[Response]]
PAGE_PARAMETERS = ("limit", "offset")


def plain_page(query_string: bytes) -> dict[str, int] | None:
    """`limit` and `offset` when each is absent or plain digits in range; None otherwise.

    Other parameters are ignored, as FastAPI ignores them (a shared link may carry utm_source).
    """
    page = {"limit": DEFAULT_LIMIT, "offset": 0}
    if query_string:
        seen: set[str] = set()
        # Parsed as Starlette parses a query string for FastAPI.
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if name not in page:
                continue
            if name in seen or not (value.isascii() and value.isdigit()) or len(value) > 9:
                return None
            seen.add(name)
            page[name] = int(value)
    if not (1 <= page["limit"] <= MAX_PAGE_SIZE and page["offset"] <= MAX_OFFSET):
        return None
    return page


def _max_lengths(route: APIRoute) -> dict[str, int]:
    """Each path parameter's max_length, read from the route's own declaration."""
    lengths = {}
    for field in route.dependant.path_params:
        for constraint in field.field_info.metadata:
            if isinstance(constraint, MaxLen):
                lengths[field.name] = constraint.max_length
    return lengths


class ShortcutRoute(Route):
    """Matches only the plain case of `api_route`, and serves it with the route's own endpoint."""

    def __init__(self, api_route: APIRoute) -> None:
        endpoint: Endpoint = api_route.endpoint
        parameters = inspect.signature(endpoint).parameters
        self.api_route = api_route
        self.paged = all(name in parameters for name in PAGE_PARAMETERS)
        self.bearer = "bearer" in parameters
        self.max_lengths = _max_lengths(api_route)
        self.target = endpoint

        async def serve(request: Request) -> Response:
            values: dict[str, Any] = {**request.path_params, "request": request}
            if self.paged:
                values |= plain_page(request.scope["query_string"]) or {}
            if self.bearer:
                values["bearer"] = await oauth2_scheme(request)
            return await self.target(**values)

        super().__init__(
            api_route.path, serve, methods=["GET"], name=api_route.name, include_in_schema=False
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        path_params: dict[str, str] = child_scope["path_params"]
        if any(len(path_params[name]) > n for name, n in self.max_lengths.items()):
            return Match.NONE, {}
        if self.paged and plain_page(scope["query_string"]) is None:
            return Match.NONE, {}
        # The access log and Sentry name the request by its route's path template.
        child_scope["route"] = self
        return match, child_scope


def install_shortcuts(app: FastAPI, routers: Sequence[APIRouter], *endpoints: Endpoint) -> None:
    """Put a shortcut ahead of everything for each endpoint's route (found in `routers`)."""
    routes = {
        route.endpoint: route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    # The app's router tries its routes in order, so these are tried first.
    app.router.routes[:0] = [ShortcutRoute(routes[endpoint]) for endpoint in endpoints]

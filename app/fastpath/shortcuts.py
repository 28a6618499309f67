"""Hot GET endpoints: one declaration gives the documented FastAPI route and its shortcut.

FastAPI's routing, parameter validation and call wrapping cost about 150 µs a request on this
machine, more than the storefront's query (bench/cpu.py). `fast_get` declares an endpoint as
usual and marks its route; `install_shortcuts` then puts a plain Starlette route ahead of it that
takes a GET whose values are plainly valid and calls the same endpoint with the values FastAPI
would pass. Anything else (another method, a path value over its max_length, a query value that
is not plain digits in range, a repeated parameter) falls through to the FastAPI route, which
validates it in full, 422s included.

What the shortcut can honour is read from the route's own declaration, and anything else it
finds there (a new dependency, a header, a `pattern=`) refuses to install, at startup: a route
is never served with a rule skipped.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import OAuth2PasswordBearer
from starlette.convertors import StringConvertor
from starlette.routing import Match, Route
from starlette.types import Scope

Endpoint = Callable[..., Awaitable[Response]]
# Longer runs of digits are left to FastAPI (and an int that large is out of any range here).
MAX_DIGITS = 9


class ShortcutError(TypeError):
    """A fast route declares something its shortcut cannot honour exactly as FastAPI would."""


class FastRoute(APIRoute):
    """A FastAPI route whose plain GET case `install_shortcuts` also serves directly."""


def fast_get(router: APIRouter, path: str, **kwargs: Any) -> Callable[[Endpoint], Endpoint]:
    """Declare a hot GET endpoint on `router`, like `router.get(path, **kwargs)`."""

    def declare(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=["GET"], route_class_override=FastRoute, **kwargs
        )
        return endpoint

    return declare


@dataclass(frozen=True, slots=True)
class IntQuery:
    """An int query parameter: absent gives the default, plain digits in range the value."""

    name: str
    default: int | None
    low: int
    high: int

    def read(self, values: list[str]) -> int | None:
        if not values:
            return self.default
        if len(values) > 1:
            return None  # FastAPI takes the last one; left to it
        text = values[0]
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
            return None
        number = int(text)
        return number if self.low <= number <= self.high else None


def _refuse(route: APIRoute, what: str) -> ShortcutError:
    return ShortcutError(f"fast route {route.path} ({route.name}): {what}")


def _length_bounds(route: APIRoute, field: Any) -> tuple[int, int | None]:
    low, high = 0, None
    if field.field_info.annotation is not str or field.alias != field.name:
        raise _refuse(route, f"path parameter {field.name} must be a plain str")
    for rule in field.field_info.metadata:
        if isinstance(rule, MaxLen):
            high = rule.max_length
        elif isinstance(rule, MinLen):
            low = rule.min_length
        else:
            raise _refuse(route, f"path parameter {field.name} has a rule it cannot check: {rule}")
    return low, high


def _whole(route: APIRoute, name: str, bound: object) -> int:
    if not isinstance(bound, int):
        raise _refuse(route, f"query parameter {name} has a bound that is not an int: {bound!r}")
    return bound


def _int_query(route: APIRoute, field: Any) -> IntQuery:
    info = field.field_info
    if info.annotation is not int or field.alias != field.name:
        raise _refuse(route, f"query parameter {field.name} must be a plain int")
    low, high = 0, 10**MAX_DIGITS - 1
    for rule in info.metadata:
        if isinstance(rule, Ge):
            low = max(low, _whole(route, field.name, rule.ge))
        elif isinstance(rule, Gt):
            low = max(low, _whole(route, field.name, rule.gt) + 1)
        elif isinstance(rule, Le):
            high = min(high, _whole(route, field.name, rule.le))
        elif isinstance(rule, Lt):
            high = min(high, _whole(route, field.name, rule.lt) - 1)
        else:
            raise _refuse(route, f"query parameter {field.name} has a rule it cannot check: {rule}")
    if low == 0 and not any(isinstance(rule, Ge | Gt) for rule in info.metadata):
        # Negative numbers are not plain digits; without a lower bound FastAPI would take them.
        raise _refuse(route, f"query parameter {field.name} needs a lower bound of 0 or more")
    default = None if info.is_required() else info.default
    return IntQuery(field.name, default, low, high)


def _bearer(route: APIRoute, dependant: Dependant) -> str | None:
    """The name of the one dependency a shortcut honours: an optional OAuth2 Bearer header."""
    name = None
    for sub in dependant.dependencies:
        scheme = sub.call
        if not isinstance(scheme, OAuth2PasswordBearer) or scheme.auto_error or name:
            raise _refuse(route, f"dependency {sub.name or sub.call!r} is not supported")
        name = sub.name
    return name


class ShortcutRoute(Route):
    """Matches only the plain case of a FastRoute, and serves it with the route's own endpoint."""

    def __init__(self, api_route: APIRoute) -> None:
        dependant = api_route.dependant
        for kind in ("header_params", "cookie_params", "body_params"):
            if getattr(dependant, kind):
                raise _refuse(api_route, f"{kind.replace('_', ' ')} are not supported")
        for kind in (
            "websocket_param_name",
            "http_connection_param_name",
            "response_param_name",
            "background_tasks_param_name",
            "security_scopes_param_name",
        ):
            if getattr(dependant, kind):
                raise _refuse(api_route, f"a {kind.removesuffix('_param_name')} parameter")
        if set(api_route.methods or ()) != {"GET"}:
            raise _refuse(api_route, "only GET routes have shortcuts")
        if any(not isinstance(c, StringConvertor) for c in api_route.param_convertors.values()):
            raise _refuse(api_route, "path convertors other than str are not supported")
        endpoint: Endpoint = api_route.endpoint
        signature = inspect.signature(endpoint)
        if not (
            inspect.isclass(signature.return_annotation)
            and issubclass(signature.return_annotation, Response)
        ):
            raise _refuse(api_route, "the endpoint must return a Response (nothing to serialise)")
        self.api_route = api_route
        self.request_name = dependant.request_param_name
        self.lengths = {f.name: _length_bounds(api_route, f) for f in dependant.path_params}
        self.queries = tuple(_int_query(api_route, f) for f in dependant.query_params)
        self.bearer = _bearer(api_route, dependant)
        self.scheme = dependant.dependencies[0].call if self.bearer else None
        known = {self.request_name, self.bearer, *self.lengths, *(q.name for q in self.queries)}
        unknown = set(signature.parameters) - known
        if unknown:
            raise _refuse(api_route, f"parameters it cannot fill: {sorted(unknown)}")
        self.target = endpoint
        super().__init__(
            api_route.path,
            self.serve,
            methods=["GET"],
            name=api_route.name,
            include_in_schema=False,
        )

    def plain_query(self, query_string: bytes) -> dict[str, int] | None:
        """The query parameters' values when each is absent or plain; None otherwise.

        Other parameters are ignored, as FastAPI ignores them (a shared link may carry utm_source).
        """
        found: dict[str, list[str]] = {query.name: [] for query in self.queries}
        if query_string:
            # Parsed as Starlette parses a query string for FastAPI.
            for name, text in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
                if name in found:
                    found[name].append(text)
        values: dict[str, int] = {}
        for query in self.queries:
            number = query.read(found[query.name])
            if number is None:
                return None
            values[query.name] = number
        return values

    async def serve(self, request: Request) -> Response:
        values: dict[str, Any] = {**request.path_params}
        if self.request_name:
            values[self.request_name] = request
        if self.queries:
            values |= self.plain_query(request.scope["query_string"]) or {}
        if self.scheme is not None and self.bearer:
            values[self.bearer] = await self.scheme(request)
        return await self.target(**values)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        path_params: dict[str, str] = child_scope["path_params"]
        for name, (low, high) in self.lengths.items():
            if len(path_params[name]) < low or (high is not None and len(path_params[name]) > high):
                return Match.NONE, {}
        if self.queries and self.plain_query(scope["query_string"]) is None:
            return Match.NONE, {}
        # The access log and Sentry name the request by its route's path template.
        child_scope["route"] = self
        return match, child_scope


def install_shortcuts(app: FastAPI) -> list[ShortcutRoute]:
    """Put a shortcut ahead of everything for each FastRoute of the app; refuse to start when one
    declares something its shortcut cannot honour."""
    shortcuts = []
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, FastRoute):
            if context.path != route.path:
                raise _refuse(route, "a router included under a prefix is not supported")
            shortcuts.append(ShortcutRoute(route))
    # The app's router tries its routes in order, so these are tried first.
    app.router.routes[:0] = shortcuts
    return shortcuts

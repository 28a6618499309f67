"""Per-request context (request id, user id) kept in a ContextVar for logs, errors and Sentry.

With Sentry on, a request also keeps its own breadcrumbs here, and its Sentry events get the
request's context from here when they are sent, or, for its messages, when they are captured
(app/observability/sentry.py): the SDK's own
per-request scope, with its fork and its bookkeeping, is never opened; a sampled request's
`db` spans are kept here too, for the transaction the app builds itself.
"""

from contextvars import ContextVar
from dataclasses import dataclass
from time import time
from typing import Any

from starlette.types import Scope

# As many as the SDK keeps by default (the newest).
MAX_BREADCRUMBS = 100
# A breadcrumb as kept: its time, category, level, message and data.
Breadcrumb = tuple[float, str, str, str, dict[str, Any] | None]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    # Filled in by the auth dependency; mutated in place so the middleware sees it afterwards.
    user_id: str | None = None
    route: str | None = None
    # Only with Sentry on: this request's breadcrumbs, its ASGI scope (the request data of its
    # events), whether the SDK traces it, and the trace its events belong to when it does not.
    breadcrumbs: list[Breadcrumb] | None = None
    scope: Scope | None = None
    traced: bool = False
    trace_id: str | None = None
    # Only for a sampled request: its transaction's span id and its finished `db` spans (JSON
    # already, built by app/observability/sentry.py).
    span_id: str | None = None
    spans: list[dict[str, Any]] | None = None
    status_code: int = 500
    # A business event of this request that rides on its access line instead of a line of its
    # own (set by BusinessEvents.record for the per-view events of the hot routes).
    access_event: dict[str, str | int] | None = None
    # The request layer's own two breadcrumbs, made only when an event needs them (most requests
    # send none, and appending them cost every request with Sentry on): its start (the method as
    # asked, set by the request layer, and the time), and once it completed, its access line's
    # fields, the time, and how many breadcrumbs came before it.
    method: str | None = None
    started_at: float = 0.0
    completed: dict[str, Any] | None = None
    completed_at: float = 0.0
    completed_after: int = 0
    # The breadcrumb of `access_event`, made the same way: its time, how many breadcrumbs came
    # before it, its message and level.
    access_crumb: tuple[float, int, str, str] | None = None

    def add_breadcrumb(
        self, message: str, category: str, level: str, data: dict[str, Any] | None = None
    ) -> None:
        crumbs = self.breadcrumbs
        if crumbs is not None:
            # Kept as they came: most requests send no event, and those that do build the
            # breadcrumbs' JSON then (`breadcrumb_values`). A list, trimmed now and then to the
            # newest: a bounded deque cost as much to make as the rest of the context.
            crumbs.append((time(), category, level, message, data))
            if len(crumbs) >= 2 * MAX_BREADCRUMBS:
                del crumbs[:-MAX_BREADCRUMBS]

    def complete(self, fields: dict[str, Any]) -> None:
        """The request layer answered, with its access line's fields (its `completed`
        breadcrumb; the dict is kept as given, never changed)."""
        self.completed = fields
        self.completed_at = time()
        self.completed_after = len(self.breadcrumbs or ())

    def note_access_event(self, event: dict[str, Any], message: str, level: str) -> None:
        """A business event that rides on the access line (kept as given, never changed), and
        its breadcrumb."""
        self.access_event = event
        if self.breadcrumbs is not None:
            self.access_crumb = (time(), len(self.breadcrumbs), message, level)

    def _all_breadcrumbs(self) -> list[Breadcrumb]:
        crumbs = list(self.breadcrumbs or ())
        fields = self.completed
        if fields is not None:
            status = fields["status"]
            crumbs.insert(
                # The list is trimmed to the newest now and then: never past its end.
                min(self.completed_after, len(crumbs)),
                (
                    self.completed_at,
                    "request",
                    "error" if status >= 500 else "info",
                    f"{fields['method']} {fields['route'] or '<unmatched>'} {status}",
                    {**fields, "request_id": self.request_id, "stage": "completed"},
                ),
            )
        noted = self.access_crumb
        if noted is not None:
            # Never after the completed breadcrumb, which came later.
            at, after, message, level = noted
            crumbs.insert(
                min(after, len(crumbs)), (at, "business", level, message, self.access_event)
            )
        if self.method is not None:
            path = (self.scope or {}).get("path", "")
            started = {"request_id": self.request_id, "stage": "started"}
            crumbs.insert(0, (self.started_at, "request", "info", f"{self.method} {path}", started))
        return crumbs

    def breadcrumb_values(self) -> list[dict[str, Any]]:
        """The breadcrumbs as an event carries them (seconds since the epoch: events get them
        after the SDK's serializer ran, so they must be JSON already)."""
        values = []
        for timestamp, category, level, message, data in self._all_breadcrumbs()[-MAX_BREADCRUMBS:]:
            crumb = {
                "timestamp": timestamp,
                "category": category,
                "level": level,
                "message": message,
            }
            if data:
                crumb["data"] = data
            values.append(crumb)
        return values


request_context: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current_request_id() -> str | None:
    ctx = request_context.get()
    return ctx.request_id if ctx else None


def set_current_user_id(user_id: str) -> None:
    ctx = request_context.get()
    if ctx is not None:
        ctx.user_id = user_id


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (`/api/store/{identifier}`), once routing has run."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None

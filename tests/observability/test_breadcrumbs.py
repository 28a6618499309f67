"""A request keeps its newest breadcrumbs, as many as the SDK keeps, in bounded memory."""

from time import time

from app.observability.context import MAX_BREADCRUMBS, RequestContext


def test_a_request_keeps_its_newest_breadcrumbs_in_bounded_memory() -> None:
    ctx = RequestContext("many-steps", breadcrumbs=[], scope={"type": "http", "path": "/"})
    total = 5 * MAX_BREADCRUMBS + 7
    for number in range(total):
        ctx.add_breadcrumb(f"step {number}", "app", "info", {"number": number})
        assert len(ctx.breadcrumbs or ()) < 2 * MAX_BREADCRUMBS

    values = ctx.breadcrumb_values()
    assert [crumb["message"] for crumb in values] == [
        f"step {number}" for number in range(total - MAX_BREADCRUMBS, total)
    ]
    assert values[-1]["data"] == {"number": total - 1}
    assert values[-1]["category"] == "app"
    timestamps = [crumb["timestamp"] for crumb in values]
    assert timestamps == sorted(timestamps)


def test_the_request_layer_s_breadcrumbs_frame_the_request_s_own() -> None:
    # As the request layer starts it (Sentry on): the method as asked, and the time.
    scope = {"type": "http", "path": "/api/store/ada"}
    ctx = RequestContext("framed", breadcrumbs=[], scope=scope, started_at=time(), method="GET")
    ctx.add_breadcrumb("SELECT 1", "query", "info")
    viewed = {"event": "storefront.viewed", "vendor_id": "v1"}
    ctx.note_access_event(viewed, "Storefront viewed", "info")
    fields = {"method": "GET", "route": "/api/store/{identifier}", "status": 503}
    ctx.complete(fields)
    ctx.add_breadcrumb("reporting the failure", "app.jobs", "warning")

    values = ctx.breadcrumb_values()
    assert [(crumb["category"], crumb["message"]) for crumb in values] == [
        ("request", "GET /api/store/ada"),
        ("query", "SELECT 1"),
        ("business", "Storefront viewed"),
        ("request", "GET /api/store/{identifier} 503"),
        ("app.jobs", "reporting the failure"),
    ]
    assert values[2]["data"] == viewed
    assert ctx.access_event == viewed
    started, completed = values[0], values[3]
    assert started["data"] == {"request_id": "framed", "stage": "started"}
    assert completed["level"] == "error"
    assert completed["data"] == {**fields, "request_id": "framed", "stage": "completed"}
    timestamps = [crumb["timestamp"] for crumb in values]
    assert timestamps == sorted(timestamps)


def test_a_request_that_never_started_has_no_request_layer_breadcrumbs() -> None:
    ctx = RequestContext("bare", breadcrumbs=[], scope={"type": "http", "path": "/"})
    ctx.add_breadcrumb("only this", "app", "info")
    assert [crumb["message"] for crumb in ctx.breadcrumb_values()] == ["only this"]

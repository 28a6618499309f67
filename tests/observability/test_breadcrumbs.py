"""A request keeps its newest breadcrumbs, as many as the SDK keeps, in bounded memory."""

from app.observability.context import MAX_BREADCRUMBS, breadcrumbs_for_sentry


def test_a_request_keeps_its_newest_breadcrumbs_in_bounded_memory() -> None:
    ctx = breadcrumbs_for_sentry("many-steps", {"type": "http", "path": "/"})
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

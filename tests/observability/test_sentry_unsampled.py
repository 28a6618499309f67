"""Requests the SDK does not trace still report their errors once, with the request's context.

A request keeps its context itself (app/observability/sentry.py), and its events get it when
sent; only a sampled request has a transaction.
"""

import logging

import sentry_sdk

from tests.conftest import create_product
from tests.observability.conftest import RELEASE, Observe

REQUEST_ID = "unsampled-4711"


async def test_an_error_on_an_untraced_request_arrives_once_with_its_context(
    observe: Observe,
) -> None:
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=0.0, ENVIRONMENT="staging")
    ada = await obs.vendor("ada.fabrics@example.com")
    # Another request first: its breadcrumbs must not reach the next request's error.
    await create_product(obs.client, ada.headers)
    assert obs.errors() == []
    logging.getLogger("app.jobs").info("between two requests")

    response = await obs.client.get(
        "/api/sentry/test-error",
        headers={**ada.headers, "X-Request-ID": REQUEST_ID},
    )
    assert response.status_code == 500

    [event] = obs.errors()
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "SentryTestError"
    assert exception["mechanism"]["handled"] is False
    assert event["transaction"] == "/api/sentry/test-error"
    assert event["tags"]["request_id"] == REQUEST_ID
    assert event["user"] == {"id": ada.user["id"]}
    assert event["release"] == RELEASE
    assert event["environment"] == "staging"
    assert event["request"]["method"] == "GET"
    assert event["request"]["url"].endswith("/api/sentry/test-error")
    crumbs = [(c["category"], c.get("message", "")) for c in event["breadcrumbs"]["values"]]
    assert crumbs[0] == ("request", "GET /api/sentry/test-error")
    assert crumbs[-1] == ("request", "GET /api/sentry/test-error 500")
    # The caller's session was looked up through SQLAlchemy: its statement, without values.
    queries = [message for category, message in crumbs if category == "query"]
    assert any("FROM users" in query for query in queries)
    assert all(ada.user["id"] not in query for query in queries)
    assert all(category != "business" for category, _ in crumbs)
    assert "between two requests" not in str(crumbs)


async def test_untraced_requests_send_no_transaction_and_share_no_trace(observe: Observe) -> None:
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=0.0)
    recorder = obs.record()
    for request_id in ("first-request", "second-request"):
        response = await obs.client.get(
            "/api/sentry/test-error", headers={"X-Request-ID": request_id}
        )
        assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    assert recorder.transactions() == []
    events = recorder.items("event")
    assert [e["tags"]["request_id"] for e in events] == ["first-request", "second-request"]
    assert len({e["contexts"]["trace"]["trace_id"] for e in events}) == 2


async def test_a_traced_orm_request_has_its_statements_as_spans(observe: Observe) -> None:
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=1.0)
    ada = await obs.vendor("ada.fabrics@example.com")
    recorder = obs.record()
    me = await obs.client.get("/api/users/me", headers=ada.headers)
    assert me.status_code == 200
    sentry_sdk.flush(timeout=5)
    [transaction] = [t for t in recorder.transactions() if t["transaction"] == "/api/users/me"]
    assert transaction["tags"]["request_id"] == me.headers["X-Request-ID"]
    assert transaction["user"] == {"id": ada.user["id"]}
    assert transaction["contexts"]["trace"]["data"]["http.response.status_code"] == 200
    spans = [span for span in transaction["spans"] if span["op"] == "db"]
    assert spans and all(span.get("timestamp") for span in spans)
    assert any("FROM users" in span["description"] for span in spans)

"""Transactions, as the SDK sends them (Bugsink drops them, so a recording transport reads them)."""

import pytest
import sentry_sdk

from app.services import store as store_service
from tests.conftest import create_product
from tests.observability.conftest import RELEASE, Observe


async def test_transactions_carry_route_request_id_user_and_sql(observe: Observe) -> None:
    obs = await observe()
    ada = await obs.vendor("ada.fabrics@example.com")
    await create_product(obs.client, ada.headers)
    recorder = obs.record()
    store = await obs.client.get(f"/api/store/{ada.user['store_slug']}")
    own = await obs.client.get("/api/products/", headers=ada.headers)
    assert store.status_code == own.status_code == 200
    sentry_sdk.flush(timeout=5)

    by_name = {t["transaction"]: t for t in recorder.transactions()}
    storefront = by_name["/api/store/{identifier}"]
    assert storefront["tags"]["request_id"] == store.headers["X-Request-ID"]
    assert any(
        span["op"] == "db" and "FROM users" in span["description"] for span in storefront["spans"]
    )
    products = by_name["/api/products"]
    assert products["tags"]["request_id"] == own.headers["X-Request-ID"]
    assert products["user"] == {"id": ada.user["id"]}
    assert products["contexts"]["trace"]["data"]["http.response.status_code"] == 200


async def test_health_checks_are_never_traced(observe: Observe) -> None:
    obs = await observe()
    recorder = obs.record()
    for path in ("/api/health", "/api/health/", "/api/health/live", "/"):
        assert (await obs.client.get(path)).status_code == 200
    sentry_sdk.flush(timeout=5)
    assert [t["transaction"] for t in recorder.transactions()] == ["/"]


@pytest.mark.parametrize(
    ("environment", "override", "expected"),
    [
        ("development", None, 1.0),
        ("staging", None, 0.5),
        ("production", None, 0.1),
        ("production", 0.25, 0.25),
    ],
)
async def test_sample_rate_per_environment(
    observe: Observe, environment: str, override: float | None, expected: float
) -> None:
    await observe(ENVIRONMENT=environment, SENTRY_TRACES_SAMPLE_RATE=override)
    sampler = sentry_sdk.get_client().options["traces_sampler"]
    assert sampler({"asgi_scope": {"path": "/api/store/ada"}}) == expected
    assert sampler({"asgi_scope": {"path": "/api/health/live"}}) == 0


async def test_rate_zero_traces_nothing(observe: Observe) -> None:
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=0.0)
    recorder = obs.record()
    assert (await obs.client.get("/")).status_code == 200
    sentry_sdk.flush(timeout=5)
    assert recorder.transactions() == []


async def test_environment_and_release_fall_back_to_the_deployment(observe: Observe) -> None:
    await observe(ENVIRONMENT="staging", SENTRY_RELEASE=None, RENDER_GIT_COMMIT="9f86d08188")
    options = sentry_sdk.get_client().options
    assert (options["environment"], options["release"]) == ("staging", "9f86d08188")
    await observe(SENTRY_ENVIRONMENT="canary", SENTRY_RELEASE="1.4.2", RENDER_GIT_COMMIT="abc")
    options = sentry_sdk.get_client().options
    assert (options["environment"], options["release"]) == ("canary", "1.4.2")
    assert options["send_default_pii"] is False
    assert options["include_local_variables"] is False


async def test_hot_path_statements_leave_query_breadcrumbs(observe: Observe) -> None:
    """The reads sent straight to asyncpg leave the same breadcrumb as SQLAlchemy's: the SQL,
    never its values."""
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=0.0)
    ada = await obs.vendor("ada.fabrics@example.com")
    recorder = obs.record()
    with sentry_sdk.isolation_scope():
        async with obs.app.state.reader.connect() as db:
            await store_service.store_page(
                db, identifier="ada-fabrics", limit=5, offset=0, share_base="https://x.example"
            )
        sentry_sdk.capture_message("after a storefront read")
    sentry_sdk.flush(timeout=5)
    [event] = recorder.items("event")
    queries = [c["message"] for c in event["breadcrumbs"]["values"] if c["category"] == "query"]
    assert queries and "FROM users" in queries[-1]
    assert "ada-fabrics" not in "".join(queries) and ada.user["id"] not in "".join(queries)


async def test_a_transaction_carries_its_spans_and_a_scrubbed_request(observe: Observe) -> None:
    """A traced request's transaction is built by the app (app/observability/sentry.py), not by
    the SDK: its statements as spans of its own trace, and of the request only what a scrubbed
    event would keep."""
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=1.0)
    ada = await obs.vendor("ada.fabrics@example.com")
    recorder = obs.record()
    shopper = "shopper.one@example.com"
    obs.secrets |= {shopper, "+2348035550123", "08035550123"}
    response = await obs.client.get(
        f"/api/store/{ada.user['store_slug']}",
        params={"ref": shopper, "phone": "+2348035550123"},
        headers={
            "User-Agent": f"ShopApp/1.0 ({shopper})",
            "Cookie": "session=08035550123",
            "X-Request-ID": "traced-0815",
        },
    )
    assert response.status_code == 200
    sentry_sdk.flush(timeout=5)

    [transaction] = [
        t for t in recorder.transactions() if t["transaction"] == "/api/store/{identifier}"
    ]
    assert transaction["transaction_info"] == {"source": "route"}
    assert transaction["tags"]["request_id"] == "traced-0815"
    assert transaction["release"] == RELEASE
    assert transaction["environment"] == obs.settings.ENVIRONMENT
    trace = transaction["contexts"]["trace"]
    assert trace["op"] == "http.server" and trace["status"] == "ok"
    assert transaction["start_timestamp"] <= transaction["timestamp"]
    spans = transaction["spans"]
    assert spans and all(span["op"] == "db" for span in spans)
    assert any("FROM users" in span["description"] for span in spans)
    for span in spans:
        assert span["trace_id"] == trace["trace_id"]
        assert span["parent_span_id"] == trace["span_id"]
        assert transaction["start_timestamp"] <= span["start_timestamp"] <= span["timestamp"]
        assert span["data"]["db.system"] in {"postgresql", "sqlite"}
    request = transaction["request"]
    assert request["method"] == "GET"
    assert request["url"].endswith(f"/api/store/{ada.user['store_slug']}")
    assert "cookie" not in request["headers"]
    assert request["headers"]["user-agent"].startswith("ShopApp/1.0")
    # The envelope's header names the trace for Sentry's dynamic sampling.
    [envelope] = [e for e in recorder.envelopes if e.items[0].type == "transaction"]
    assert envelope.headers["trace"]["trace_id"] == trace["trace_id"]
    assert envelope.headers["trace"]["sample_rate"] == "1.0"
    obs.assert_no_secrets([recorder.raw()])


async def test_an_error_in_a_traced_request_shares_its_transaction_s_trace(
    observe: Observe,
) -> None:
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=1.0)
    recorder = obs.record()
    response = await obs.client.get("/api/sentry/test-error", headers={"X-Request-ID": "t-500"})
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    [error] = recorder.items("event")
    [transaction] = recorder.transactions()
    assert error["tags"]["request_id"] == transaction["tags"]["request_id"] == "t-500"
    assert error["transaction"] == transaction["transaction"] == "/api/sentry/test-error"
    assert transaction["contexts"]["trace"]["status"] == "internal_error"
    assert error["contexts"]["trace"]["trace_id"] == transaction["contexts"]["trace"]["trace_id"]
    assert error["contexts"]["trace"]["span_id"] == transaction["contexts"]["trace"]["span_id"]


async def test_a_server_giving_lists_in_the_scope_still_gets_its_transaction(
    observe: Observe,
) -> None:
    """ASGI lets a server give the header pairs and the server address as lists (unhashable):
    the transaction is still built and sent, with the request's kept headers."""
    obs = await observe(SENTRY_TRACES_SAMPLE_RATE=1.0)
    recorder = obs.record()
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ["testserver", 80],
        "client": ["127.0.0.1", 50000],
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [[b"host", b"testserver"], [b"user-agent", b"ListServer/1.0"]],
    }
    await obs.app(scope, receive, send)
    assert sent[0]["status"] == 200
    sentry_sdk.flush(timeout=5)
    [transaction] = recorder.transactions()
    assert transaction["transaction"] == "/"
    assert transaction["request"]["headers"]["user-agent"] == "ListServer/1.0"

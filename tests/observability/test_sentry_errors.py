"""Errors and business events as a real Sentry-compatible server (Bugsink) stores them."""

import logging
import time

from app.observability.redaction import MAX_TEXT
from app.observability.sentry import capture_custom_error
from tests.conftest import create_product
from tests.observability.conftest import RELEASE, Observe

REQUEST_ID = "support-ticket-4711"
# A guard against hangs: scrubbing and sending the event takes milliseconds.
HANG_BOUND = 10.0


async def test_test_error_reaches_sentry_once_with_its_context(observe: Observe) -> None:
    obs = await observe()
    ada = await obs.vendor("ada.fabrics@example.com")
    response = await obs.client.get(
        "/api/sentry/test-error?note=ada.fabrics@example.com",
        headers={**ada.headers, "X-Request-ID": REQUEST_ID, "Cookie": f"access_token={ada.token}"},
    )
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == REQUEST_ID
    assert response.json() == {"detail": "Internal server error", "request_id": REQUEST_ID}

    errors = obs.errors()
    assert len(errors) == 1
    event = errors[0]
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "SentryTestError"
    assert exception["mechanism"]["handled"] is False
    assert event["transaction"] == "/api/sentry/test-error"
    assert event["release"] == RELEASE
    assert event["environment"] == "development"
    assert event["tags"]["request_id"] == REQUEST_ID
    assert event["user"] == {"id": ada.user["id"]}
    crumbs = [(c["category"], c.get("message")) for c in event["breadcrumbs"]["values"]]
    assert ("request", "GET /api/sentry/test-error") in crumbs
    assert ("request", "GET /api/sentry/test-error 500") in crumbs
    # Only this request's breadcrumbs: not the registration and login before it.
    assert all(category != "business" for category, _ in crumbs)
    request = event["request"]
    assert "data" not in request
    assert "cookies" not in request
    assert set(request["headers"]) <= {
        "host",
        "accept",
        "accept-encoding",
        "user-agent",
        "x-request-id",
        "content-length",
        "content-type",
    }
    frames = exception["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)


async def test_a_head_request_s_breadcrumbs_name_the_method_it_asked_for(
    observe: Observe,
) -> None:
    # HEAD is answered as GET (app/http/head.py); its breadcrumbs say what the client asked.
    obs = await observe()
    response = await obs.client.head("/api/sentry/test-error")
    assert response.status_code == 500
    assert response.content == b""

    errors = obs.errors()
    assert len(errors) == 1
    crumbs = [(c["category"], c.get("message")) for c in errors[0]["breadcrumbs"]["values"]]
    assert crumbs[0] == ("request", "HEAD /api/sentry/test-error")
    assert crumbs[-1] == ("request", "HEAD /api/sentry/test-error 500")


async def test_client_errors_and_failed_logins_are_not_errors(observe: Observe) -> None:
    obs = await observe()
    client = obs.client
    assert (await client.get("/api/store/nobody-has-this-store")).status_code == 404
    assert (await client.get("/api/no-such-route")).status_code == 404
    bad = {"email": "not-an-email", "password": "x", "whatsapp_number": "12"}
    assert (await client.post("/api/users/register", json=bad)).status_code == 422
    assert (await client.get("/api/users/me")).status_code == 401
    assert (await client.get("/api/products")).status_code == 401
    assert obs.events() == []

    ada = await obs.vendor("ada.fabrics@example.com")
    wrong = {"email": ada.email, "password": "wrong-password-1"}
    unknown = {"email": "nobody@example.com", "password": "wrong-password-2"}
    obs.secrets |= {"nobody@example.com", "wrong-password-1", "wrong-password-2"}
    for body in (wrong, unknown):
        assert (await client.post("/api/auth/login", json=body)).status_code == 401
    assert obs.errors() == []
    failed = obs.messages()["Login failed"]
    assert [event["level"] for event in failed] == ["warning", "warning"]
    hashes = {event["contexts"]["details"]["email_hash"] for event in failed}
    assert len(hashes) == 2


async def test_registration_and_product_leave_breadcrumbs_and_events(observe: Observe) -> None:
    obs = await observe()
    ada = await obs.vendor("ada.fabrics@example.com", whatsapp="0803 555 0142")
    response = await obs.client.post(
        "/api/products", json={"name": "Ankara dress", "price": "15000"}, headers=ada.headers
    )
    assert response.status_code == 201
    product = response.json()
    slug = ada.user["store_slug"]
    assert (await obs.client.get(f"/api/store/{slug}")).status_code == 200

    messages = obs.messages(at_least=4)
    assert obs.errors() == []
    registered = messages["Vendor registered"][0]
    assert registered["contexts"]["details"] == {
        "event": "user.registered",
        "user_id": ada.user["id"],
    }
    assert messages["Login succeeded"][0]["level"] == "info"
    created = messages["Product created"][0]
    assert created["contexts"]["details"]["product_id"] == product["id"]
    assert created["tags"]["request_id"] == response.headers["X-Request-ID"]
    assert created["transaction"] == "/api/products"
    assert created["user"] == {"id": ada.user["id"]}
    crumbs = [(c["category"], c.get("message")) for c in created["breadcrumbs"]["values"]]
    assert crumbs[0] == ("request", "POST /api/products")
    assert ("business", "Product created") in crumbs
    viewed = messages["Storefront viewed"][0]
    assert viewed["contexts"]["details"]["vendor_id"] == ada.user["id"]
    assert viewed["transaction"] == "/api/store/{identifier}"
    viewed_crumbs = [(c["category"], c.get("message")) for c in viewed["breadcrumbs"]["values"]]
    assert viewed_crumbs[0] == ("request", f"GET /api/store/{slug}")
    assert viewed_crumbs[-1] == ("business", "Storefront viewed")


async def test_production_samples_business_events(observe: Observe) -> None:
    obs = await observe(ENVIRONMENT="production", SENTRY_STOREFRONT_EVENT_RATE=0.0)
    ada = await obs.vendor("ada.fabrics@example.com")
    wrong = {"email": ada.email, "password": "wrong-password-1"}
    obs.secrets.add("wrong-password-1")
    assert (await obs.client.post("/api/auth/login", json=wrong)).status_code == 401
    await create_product(obs.client, ada.headers)
    assert (await obs.client.get(f"/api/store/{ada.user['store_slug']}")).status_code == 200

    messages = obs.messages(at_least=2)
    # Registration and product creation always; logins never in production (rate 0 by default),
    # the storefront at its configured rate (0 here).
    assert sorted(messages) == ["Product created", "Vendor registered"]
    assert {event["environment"] for events in messages.values() for event in events} == {
        "production"
    }


async def test_sentry_checks_in_production_need_the_token(observe: Observe) -> None:
    obs = await observe(ENVIRONMENT="production", SENTRY_TEST_TOKEN="operator-check-1234")
    obs.secrets.add("operator-check-1234")
    # Wrong, empty and malformed tokens (bytes outside ASCII, as any client may send) are all a
    # plain 404: never a 500, never an event that reveals the endpoint or spends the quota.
    wrong_tokens = [
        b"guess",
        b"",
        b"\xff\xfe",
        "opérator-check-1234".encode(),
        b"operator-check-1234\x80",
        "operator-check-1234é".encode(),
    ]
    for path in ("/api/sentry/test-error", "/api/sentry/test-message"):
        assert (await obs.client.get(path)).status_code == 404
        for wrong in wrong_tokens:
            refused = await obs.client.get(path, headers={"X-Sentry-Test-Token": wrong})
            assert refused.status_code == 404, (wrong, refused.text)
            assert refused.json()["detail"] == "Not Found"
    assert obs.events() == []

    token = {"X-Sentry-Test-Token": "operator-check-1234"}
    message = await obs.client.get("/api/sentry/test-message", headers=token)
    assert message.status_code == 200
    body = message.json()
    assert body["message"] == "Test message sent to Sentry"
    error = await obs.client.get("/api/sentry/test-error", headers=token)
    assert error.status_code == 500

    events = obs.events(at_least=2)
    assert [e["event_id"] for e in events if "exception" not in e] == [body["event_id"]]
    [failure] = [e for e in events if "exception" in e]
    assert failure["tags"]["request_id"] == error.headers["X-Request-ID"]
    assert failure["environment"] == "production"


async def test_helpers_scrub_nested_data_and_never_send_an_exception_twice(
    observe: Observe,
) -> None:
    obs = await observe()
    obs.secrets |= {
        "hunter2-secret",
        "eve@example.org",
        "+44 20 7946 0958",
        "sk_Live9aZ3QpX7vB2nM4kL8wR1tY6uH0jF5",
    }
    log = logging.getLogger("app.jobs")
    context = {
        "form": {"password": "hunter2-secret", "items": [{"email": "eve@example.org"}]},
        "remark": "call +44 20 7946 0958 with key sk_Live9aZ3QpX7vB2nM4kL8wR1tY6uH0jF5",
    }
    first, second = RuntimeError("first failure"), ValueError("second failure")
    assert capture_custom_error(first, context) is not None
    assert capture_custom_error(second) is not None
    # Logged after it was reported, with another exception in between (Sentry's own dedupe
    # only remembers the last one): still not a second event.
    log.error("job failed", exc_info=first)
    log.error("nothing raised, still an error")

    events = obs.events(at_least=3)
    values = [e["exception"]["values"][-1]["value"] for e in events if "exception" in e]
    assert sorted(values) == ["first failure", "second failure"]
    assert [
        e.get("logentry", {}).get("message") or e.get("message")
        for e in events
        if "exception" not in e
    ] == ["nothing raised, still an error"]
    details = next(e for e in events if "exception" in e and "details" in e.get("contexts", {}))
    assert details["contexts"]["details"] == {
        "form": {"password": "[Filtered]", "items": [{"email": "[Filtered]"}]},
        "remark": "call [Filtered] with key [Filtered]",
    }


async def test_database_outage_503_reaches_sentry_once(observe: Observe) -> None:
    obs = await observe(DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/unreachable")
    response = await obs.client.get("/api/store/ada-fabrics")
    assert response.status_code == 503
    [event] = obs.errors()
    assert event["tags"]["request_id"] == response.headers["X-Request-ID"]
    assert event["transaction"] == "/api/store/{identifier}"
    assert event["exception"]["values"][-1]["type"] in {"ConnectionRefusedError", "OSError"}


async def test_a_huge_client_value_is_cut_before_it_is_scrubbed(observe: Observe) -> None:
    # Clients choose the User-Agent and the query string; scrubbing them must stay linear and
    # bounded (16,000 digits used to stall the worker for a second, this many for minutes).
    obs = await observe()
    hostile = "1" * 200_000
    started = time.process_time()
    response = await obs.client.get(
        f"/api/sentry/test-error?q={hostile[:60_000]}", headers={"User-Agent": hostile}
    )
    assert response.status_code == 500
    [event] = obs.errors()
    assert time.process_time() - started < HANG_BOUND
    request = event["request"]
    assert len(request["headers"]["user-agent"]) <= MAX_TEXT + 40
    assert len(request["query_string"]) <= MAX_TEXT + 40

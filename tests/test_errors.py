"""One error shape everywhere; request ids, timing and CORS headers on every response."""

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from tests.conftest import FRONTEND, client_for, make_settings


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "request_id": missing.headers["X-Request-ID"]}
    wrong_method = await client.patch("/api/health")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["detail"] == "Method Not Allowed"


async def test_validation_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/users/register", json={"email": "x"})
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str)
    assert "email" in body["detail"] and "password" in body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert all(set(err) == {"loc", "msg", "type"} for err in body["errors"])


async def test_500_has_no_trace_and_keeps_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/sentry/test-error", headers={"Origin": FRONTEND})
    assert response.status_code == 500
    body = response.json()
    assert body == {"detail": "Internal server error", "request_id": body["request_id"]}
    assert response.headers["X-Request-ID"] == body["request_id"]
    assert float(response.headers["X-Process-Time"]) >= 0
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "Traceback" not in response.text


async def test_safe_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    kept = await client.get("/", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert kept.headers["X-Request-ID"] == "abc.DEF_123-x"
    for unsafe in ("has space", "x" * 65, "<script>", "a\tb"):
        replaced = await client.get("/", headers={"X-Request-ID": unsafe})
        assert replaced.headers["X-Request-ID"] != unsafe
        assert len(replaced.headers["X-Request-ID"]) == 32


async def test_cors_allows_only_listed_origins(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/products",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    simple = await client.get("/api/store/nobody", headers={"Origin": FRONTEND})
    exposed = simple.headers["Access-Control-Expose-Headers"]
    for header in ("X-Total-Count", "X-Request-ID", "Retry-After", "ETag"):
        assert header in exposed
    for origin in ("https://evil.onrender.com", "https://quickvendor.onrender.com", "null"):
        response = await client.get("/", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers
        denied = await client.options(
            "/api/products", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert denied.status_code == 400
        assert denied.json()["detail"] == "Disallowed CORS origin"
        assert denied.json()["request_id"] == denied.headers["X-Request-ID"]


async def test_openapi_documents_the_error_shape(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert set(components["ErrorBody"]["required"]) == {"detail", "request_id"}
    assert "errors" in components["ValidationErrorBody"]["properties"]
    store = schema["paths"]["/api/store/{identifier}"]["get"]["responses"]
    assert store["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert store["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ValidationErrorBody"
    )
    create = schema["paths"]["/api/products"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(create["requestBody"]["content"])
    assert "401" in create["responses"]
    assert "500" in schema["paths"]["/api/sentry/test-error"]["get"]["responses"]


@pytest.mark.parametrize("environment", ["staging", "production"])
async def test_docs_and_sentry_checks_outside_development(
    database_url: str, environment: str
) -> None:
    settings = make_settings(
        database_url,
        ENVIRONMENT=environment,
        CORS_ORIGINS=[FRONTEND],
        SENTRY_TEST_TOKEN="operator-check-token",
        ALLOW_SQLITE_IN_PRODUCTION=True,
    )
    app: FastAPI = create_app(settings)
    async with client_for(app) as http:
        docs = await http.get("/docs")
        assert docs.status_code == (404 if environment == "production" else 200)
        plain = await http.get("/api/sentry/test-message")
        wrong = await http.get("/api/sentry/test-message", headers={"X-Sentry-Test-Token": "guess"})
        right = await http.get(
            "/api/sentry/test-message", headers={"X-Sentry-Test-Token": "operator-check-token"}
        )
    await app.state.engine.dispose()
    if environment == "production":
        assert (plain.status_code, wrong.status_code) == (404, 404)
    else:
        assert plain.status_code == 200
    assert right.status_code == 200
    assert right.json()["message"] == "Test message sent to Sentry"


async def test_production_cookie_is_secure_and_cross_site(database_url: str) -> None:
    settings: Settings = make_settings(
        database_url, ENVIRONMENT="production", ALLOW_SQLITE_IN_PRODUCTION=True
    )
    assert settings.cookie_secure is True
    assert settings.cookie_samesite == "none"

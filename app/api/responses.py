"""OpenAPI descriptions of the error statuses each route can return, all in the one error shape."""

from typing import Any

from pydantic import BaseModel

from app.schemas.common import ErrorBody, ValidationErrorBody

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, expired, revoked or invalid token",
    403: "Cross-site request refused",
    404: "Not found",
    409: "Conflict with existing data",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Validation error",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service temporarily unavailable",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the given statuses plus the 503 any database route can give."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*codes, 503}):
        model: type[BaseModel] = ValidationErrorBody if code == 422 else ErrorBody
        documented[code] = {"model": model, "description": _DESCRIPTIONS[code]}
    return documented


def json_or_form_body(model: type[BaseModel], files: tuple[str, ...] = ()) -> dict[str, Any]:
    """`openapi_extra=` for routes that read the body themselves (JSON or a form)."""
    schema = model.model_json_schema()
    form_schema = {
        **schema,
        "properties": {
            **schema.get("properties", {}),
            **{name: {"type": "string", "format": "binary"} for name in files},
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "multipart/form-data": {"schema": form_schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    }

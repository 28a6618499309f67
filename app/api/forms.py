"""Request bodies that arrive as JSON or as a form (the frontend sends multipart forms)."""

import json
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.http.body_limit import limited_receive, media_type

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
ModelT = TypeVar("ModelT", bound=BaseModel)


def _media_type(request: Request) -> str:
    return media_type(request.headers.get("content-type", ""))


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def body_too_large(max_body_size: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"Request body too large: at most {megabytes(max_body_size)}",
    )


def limit_body(request: Request, max_body_size: int) -> Request:
    """The same request, refusing with 413 once its body passes max_body_size bytes.

    A declared Content-Length over the limit is refused before any byte is read, and a body
    without one (or lying about it) is cut off as soon as it passes the limit, so an upload is
    never read beyond it. FastAPI's own `max_body_size` answers that case in plain text, not in
    the API's JSON error shape, hence this.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_size:
        raise body_too_large(max_body_size)
    # Something outside the route (Sentry's FastAPI integration) may have read and cached the
    # body on this Request already; the ASGI stream is then drained and must not be read again.
    cached: bytes | None = getattr(request, "_body", None)
    if cached is not None:
        if len(cached) > max_body_size:
            raise body_too_large(max_body_size)
        return request
    # The same Request object, so whatever it caches is seen by everyone holding it.
    request._receive = limited_receive(
        request.receive, max_body_size, lambda: body_too_large(max_body_size)
    )
    return request


async def read_fields(
    request: Request, *, max_body_size: int | None = None
) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """Text fields and uploaded files of a JSON, urlencoded or multipart body."""
    if max_body_size is not None:
        request = limit_body(request, max_body_size)
    media_type = _media_type(request)
    if media_type in FORM_TYPES:
        try:
            form = await request.form()
        except StarletteHTTPException:
            raise  # the body limit's 413 (or Starlette's own 400) is already the right answer
        except Exception as exc:  # multipart parser errors have no common base class
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Malformed form body") from exc
        # Uploaded files are spooled to temporary files: closed when the request is done.
        stack = request.scope.get("fastapi_middleware_astack")
        if isinstance(stack, AsyncExitStack):
            stack.push_async_callback(form.close)
        fields: dict[str, Any] = {}
        files: dict[str, UploadFile] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                fields[key] = value
        return fields, files
    if media_type == "application/json" or media_type.endswith("+json"):
        raw = await request.body()
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, RecursionError) as exc:  # incl. decode errors, 5000-digit numbers
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Malformed JSON body") from exc
        if not isinstance(data, dict):
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "Input should be a JSON object", "type": "dict_type"}]
            )
        return data, {}
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        "Send the body as application/json or as a form (multipart/form-data)",
    )


def field_error(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 about one field of the body, in the shape FastAPI's own validation gives."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": kind}])


def parse_as(model: type[ModelT], fields: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = [
            {"loc": ("body", *err["loc"]), "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from exc

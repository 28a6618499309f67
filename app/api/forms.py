"""Request bodies that arrive as JSON or as a form (the frontend sends multipart forms)."""

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
ModelT = TypeVar("ModelT", bound=BaseModel)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_fields(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """Text fields and uploaded files of a JSON, urlencoded or multipart body."""
    media_type = _media_type(request)
    if media_type in FORM_TYPES:
        try:
            form = await request.form()
        except StarletteHTTPException:
            raise  # the body limit's 413 (or Starlette's own 400) is already the right answer
        except Exception as exc:  # multipart parser errors have no common base class
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Malformed form body") from exc
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


def parse_as(model: type[ModelT], fields: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = [
            {"loc": ("body", *err["loc"]), "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from exc

"""Logging set-up: every line carries the request id; JSON lines outside development.

No line carries an email, phone number, token or cookie: messages, extra fields and tracebacks are
passed through the same shape-based redaction as Sentry events.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from app.core.config import Settings
from app.core.context import request_context
from app.core.redact import redact_text

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
DEV_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestContextFilter(logging.Filter):
    """Adds the request (and user) id and redacts the message before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = request_context.get()
        record.request_id = ctx.request_id if ctx else "-"
        if ctx and ctx.user_id and not hasattr(record, "user_id"):
            record.user_id = ctx.user_id
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


class ReadableFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(DEV_FORMAT)

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 - logging's API
        return redact_text(super().formatException(ei))


def _redacted(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) else value


class JsonFormatter(ReadableFormatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = _redacted(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestContextFilter())
    if settings.ENVIRONMENT == "development":
        handler.setFormatter(ReadableFormatter())
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.LOG_LEVEL.upper())
    # uvicorn's own access log would duplicate ours, without the request id.
    logging.getLogger("uvicorn.access").disabled = True

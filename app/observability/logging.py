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

import orjson

from app.observability.context import request_context
from app.observability.redaction import redact_text
from app.settings import Settings

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

# Attributes every LogRecord has; anything else was passed through `extra=` (except uvicorn's
# copy of its message with terminal colours, which no log line needs).
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
ACCESS_LOGGER = "app.access"
EVENTS_LOGGER = "app.events"
UNHANDLED_LOGGER = "app.errors.unhandled"
DEV_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


# Lines Sentry gets another way: the access line is a breadcrumb of its own, business events
# are breadcrumbs and messages, and an unhandled error is captured with its exception.
NOT_FOR_SENTRY = frozenset({ACCESS_LOGGER, EVENTS_LOGGER, UNHANDLED_LOGGER})
_CRUMB_LEVELS = {"CRITICAL": "fatal"}


class RequestContextFilter(logging.Filter):
    """Adds the request (and user) id and redacts the message before any formatter sees it;
    with Sentry on, a request's INFO and higher lines become its breadcrumbs."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = request_context.get()
        record.request_id = ctx.request_id if ctx else "-"
        if ctx and ctx.user_id and not hasattr(record, "user_id"):
            record.user_id = ctx.user_id
        message = record.getMessage()
        record.msg = message if _is_access_line(record) else redact_text(message)
        record.args = None
        if (
            ctx is not None
            and ctx.breadcrumbs is not None
            and record.levelno >= logging.INFO
            and record.name not in NOT_FOR_SENTRY
        ):
            level = _CRUMB_LEVELS.get(record.levelname, record.levelname.lower())
            ctx.add_breadcrumb(record.msg, record.name, level)
        return True


def _is_access_line(record: logging.LogRecord) -> bool:
    # Every field of the access line is the app's own: a known method, the route template, the
    # status, the timing and our user id; it is written for every request, so it skips the
    # shape-based search that every other line goes through.
    return record.name == ACCESS_LOGGER


def _redacted(value: Any) -> Any:
    return redact_text(value) if isinstance(value, str) else value


def _as_is(value: Any) -> Any:
    return value


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields passed through `extra=` (request_id included), redacted."""
    redact = _as_is if _is_access_line(record) else _redacted
    return {
        key: redact(value)
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    }


class ReadableFormatter(logging.Formatter):
    """`time LEVEL [request id] logger: message key=value ...` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__(DEV_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.name == ACCESS_LOGGER:  # its message already holds every field
            return line
        fields = _extra_fields(record)
        extras = " ".join(f"{key}={value}" for key, value in fields.items() if key != "request_id")
        if not extras:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} {extras}{newline}{rest}"

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 - logging's API
        return redact_text(super().formatException(ei))


class JsonFormatter(ReadableFormatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extra_fields(record),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        try:
            # A tenth of json.dumps's time, on a line written for every request.
            return orjson.dumps(payload, default=str).decode()
        except orjson.JSONEncodeError:
            # What orjson refuses (a lone surrogate from a client, an int past 64 bits).
            return json.dumps(payload, default=str)


def configure_logging(settings: Settings) -> None:
    # No line shows the caller's file and line, the thread or the process: logging's
    # documented switches for skipping their lookup on every record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
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
    # httpx logs every request's full URL at INFO; a Slack webhook's URL is its credential.
    logging.getLogger("httpx").setLevel(logging.WARNING)

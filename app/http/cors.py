"""CORS with the API's error shape on refused preflights."""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from app.http.errors import error_response

_BODY_HEADERS = frozenset({"content-type", "content-length"})


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, except that a refused preflight answers the usual JSON error body."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _BODY_HEADERS}
        return error_response(response.status_code, bytes(response.body).decode(), headers)

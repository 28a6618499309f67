"""Requests straight into the ASGI app, for what an HTTP client cannot show: whether the body was
read at all, or a peer address as uvicorn reports it."""

from typing import Any

from starlette.types import ASGIApp, Message, Receive


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], client: tuple[str, int]
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": client,
        "server": ("testserver", 80),
        "state": {},
    }


async def answer(app: ASGIApp, scope: dict[str, Any], receive: Receive) -> list[Message]:
    """Every message the app sent back."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent

"""Health checks: liveness for the load balancer, readiness (with the database) for monitors."""

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import SettingsDep

router = APIRouter(prefix="/api/health", tags=["health"])
logger = logging.getLogger(__name__)


async def _ping(request: Request) -> None:
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get("", responses={503: {"description": "The database cannot be reached"}})
async def health(request: Request, settings: SettingsDep) -> JSONResponse:
    """Whether the service and its database answer."""
    try:
        await asyncio.wait_for(_ping(request), timeout=settings.HEALTH_DB_TIMEOUT)
        database = "ok"
    except Exception as exc:  # any failure to reach the database means "not ready"
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        database = "unavailable"
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "version": settings.VERSION,
        "environment": settings.ENVIRONMENT,
    }
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up and serving; never touches the database."""
    return {"status": "ok"}

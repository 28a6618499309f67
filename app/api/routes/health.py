"""Health checks: liveness for the load balancer, readiness (with the database) for monitors."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import SettingsDep
from app.services.health import database_answers

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", responses={503: {"description": "The database cannot be reached"}})
async def health(request: Request, settings: SettingsDep) -> JSONResponse:
    """Whether the service and its database answer."""
    ready = await database_answers(
        request.app.state.engine, within_seconds=settings.HEALTH_DB_TIMEOUT
    )
    body = {
        "status": "ok" if ready else "degraded",
        "database": "ok" if ready else "unavailable",
        "version": settings.VERSION,
        "environment": settings.ENVIRONMENT,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up and serving; never touches the database."""
    return {"status": "ok"}

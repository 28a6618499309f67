"""Every route of the API; each router carries its full `/api/...` prefix.

Full prefixes (rather than one `/api` parent router) keep each route's own `path` equal to its
public template, which the access log and Sentry's transaction names read.
"""

from fastapi import FastAPI

from app.api.routes import auth, health, products, sentry_test, store, users


def include_routes(app: FastAPI) -> None:
    for module in (auth, users, products, store, sentry_test, health):
        app.include_router(module.router)

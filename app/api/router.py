"""Every route of the API; each router carries its full `/api/...` prefix.

Full prefixes (rather than one `/api` parent router) keep each route's own `path` equal to its
public template, which the access log and Sentry's transaction names read.
"""

from fastapi import FastAPI

from app.api.account_area import install_login_redirect
from app.api.routes import (
    account,
    account_insights,
    account_orders,
    account_recovery,
    analytics,
    auth,
    feedback,
    health,
    orders,
    photos,
    products,
    recovery,
    sentry_test,
    store,
    store_orders,
    store_pages,
    users,
)
from app.api.routes.media import mount_media
from app.fastpath.shortcuts import install_shortcuts


def include_routes(app: FastAPI) -> None:
    # Matched in this order: the shoppers' storefront and the vendors' list first, as no other
    # route shares their paths, so the hottest requests try the fewest routes.
    for module in (
        store,
        products,
        photos,
        orders,
        auth,
        users,
        recovery,
        feedback,
        analytics,
        sentry_test,
        health,
    ):
        app.include_router(module.router)
    for module in (
        store_pages,
        store_orders,
        account,
        account_recovery,
        account_orders,
        account_insights,
    ):
        app.include_router(module.router)
    install_login_redirect(app)
    install_shortcuts(app)
    mount_media(app)

"""The FastAPI application factory."""

from __future__ import annotations

import hmac
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from inthegrid import __version__
from inthegrid.gateway.middleware.instrumentation import MetricsMiddleware
from inthegrid.gateway.middleware.security import SecurityMiddleware
from inthegrid.gateway.rest.openapi import API_DESCRIPTION, install_openapi, operation_id
from inthegrid.gateway.rest.routers import (
    aggregates,
    health,
    opportunities,
    prices,
    reference,
    spreads,
)
from inthegrid.gateway.rest.routers.analytics import router as analytics_router
from inthegrid.gateway.rest.routers.forecast import router as forecast_router
from inthegrid.gateway.services import GatewayServices
from inthegrid.gateway.storage.database import DatabaseUnavailableError
from inthegrid.gateway.stream import sse_routes, websocket_routes
from inthegrid.platform.settings import GatewaySettings

log = logging.getLogger(__name__)

DASHBOARD_MODULE = "inthegrid.dashboard.app"
# The package the dashboard is built on; images without the `dashboard` extra (the `services`
# variant) do not have it, and their gateway serves the API alone.
DASHBOARD_REQUIRES = "gradio"
DASHBOARD_PATH = "/dashboard"


def create_app(
    settings: GatewaySettings,
    *,
    services: GatewayServices | None = None,
    start_services: bool = True,
    mount_dashboard: bool = True,
) -> FastAPI:
    """The gateway app.

    ``services`` holds the live state, SSE channels and database; the app starts and stops them
    with its lifespan unless ``start_services`` is False (tests that fill the live state directly).
    """
    services = services or GatewayServices(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_services:
            await services.start()
        try:
            yield
        finally:
            if start_services:
                await services.stop()

    app = FastAPI(
        title="InTheGrid gateway",
        version=__version__,
        summary="Cross-border electricity arbitrage: live prices, spreads, opportunities and history.",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_openapi(app)
    app.state.services = services
    routers = (health, reference, prices, spreads, opportunities, sse_routes, websocket_routes, aggregates)
    for module in routers:
        app.include_router(module.router)
    app.include_router(analytics_router)
    app.include_router(forecast_router)

    @app.exception_handler(DatabaseUnavailableError)
    async def database_unavailable(request: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"retry-after": "5"})

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["X-API-Key", "Authorization", "Last-Event-ID"],
        )
    app.add_middleware(
        SecurityMiddleware,
        api_keys=[k.get_secret_value() for k in settings.api_keys],
        rate_limit_per_minute=settings.rate_limit_per_minute,
        rate_limit_burst=settings.rate_limit_burst,
        login_path=f"{DASHBOARD_PATH}/login",
        login_attempts_per_minute=settings.login_attempts_per_minute,
        login_attempts_burst=settings.login_attempts_burst,
    )
    app.add_middleware(MetricsMiddleware)  # outermost: counts rejected requests too
    if mount_dashboard and settings.dashboard:
        _mount_dashboard(app, settings)
    return app


def api_base_url(settings: GatewaySettings) -> str:
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
    return f"http://{host}:{settings.http_port}"


def _mount_dashboard(app: FastAPI, settings: GatewaySettings) -> None:
    """Mount the Gradio dashboard when it and Gradio are installed (it is optional for the API)."""
    if importlib.util.find_spec(DASHBOARD_MODULE) is None:
        log.info("no dashboard module; /dashboard not mounted")
        return
    if importlib.util.find_spec(DASHBOARD_REQUIRES) is None:
        log.warning("%s is not installed (the 'dashboard' extra); /dashboard not mounted", DASHBOARD_REQUIRES)
        return
    module = importlib.import_module(DASHBOARD_MODULE)
    # The dashboard calls this API from the server side, so it presents a key when keys are required.
    key = settings.api_keys[0].get_secret_value() if settings.api_keys else None
    blocks = module.build_dashboard(api_base_url(settings), api_key=key)
    import gradio

    # With API keys configured the dashboard is not an open window onto the data: its login asks
    # for an API key as the password (any user name).
    keys = [k.get_secret_value() for k in settings.api_keys]

    def check_key(_user: str, password: str) -> bool:
        return any(hmac.compare_digest(password.encode(), k.encode()) for k in keys)

    gradio.mount_gradio_app(
        app,
        blocks,
        path=DASHBOARD_PATH,
        auth=check_key if keys else None,
        auth_message="InTheGrid: sign in with any user name and an API key as the password."
        if keys
        else None,
    )
    log.info("dashboard mounted at %s", DASHBOARD_PATH)

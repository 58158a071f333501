"""Every route and dependency of the API runs on the event loop: FastAPI runs a plain ``def`` in a
worker thread, one hop per dependency per request. The hops cost latency and, with threads created
and retired as load comes and goes, resident memory that did not come back (the soak in
bench/RESULTS.md, issue #18)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

from inthegrid.gateway.app import create_app
from inthegrid.platform.settings import GatewaySettings


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute | APIWebSocketRoute]:
    for route in routes:
        if isinstance(route, APIRoute | APIWebSocketRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:  # FastAPI >= 0.16x
            yield from _api_routes(included.routes)


def test_no_route_or_dependency_runs_in_a_worker_thread() -> None:
    app = create_app(GatewaySettings.model_validate({"dashboard": False}), start_services=False)
    routes = list(_api_routes(app.routes))
    assert len(routes) > 20  # the whole API, not an empty table
    threaded = {
        f"{getattr(route, 'path', '?')}: {call.__qualname__}"
        for route in routes
        for call in _calls(route.dependant)
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    }
    assert not threaded, sorted(threaded)

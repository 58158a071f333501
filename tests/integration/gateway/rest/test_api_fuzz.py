"""Fuzz the REST API from its own OpenAPI document (schemathesis) against the real gateway process.

The gateway runs as in a deployment (``inthegrid gateway`` with API keys, CORS and a rate limit) on
a real nats-server and PostgreSQL holding prices and opportunities recorded by the real recorder,
so answers carry data and the history queries really run. For every operation, valid and invalid
requests must never get a 5xx, never leak a stack trace or exception text, and every answer must
match the documented status codes, content types and schemas.

The two SSE operations never end, so they are fuzzed by their own loop that reads only the status
and headers of a 200 (the body is an endless stream) and the whole body of anything else.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema

from inthegrid.domain.codec import encode_event, encode_price
from inthegrid.domain.economics import value_pair
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Price, Resolution, make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.gateway.app import create_app
from inthegrid.platform.bus import connect_bus, opportunity_subject, price_subject, publish_all
from inthegrid.platform.rules_kv import announce_rule
from inthegrid.platform.settings import CommonSettings, GatewaySettings
from tests.integration.conftest import create_database, reset_jetstream
from tests.support.polling import wait_until
from tests.support.processes import ServiceProcess
from tests.support.servers import EmbeddedNats, EmbeddedPostgres, free_port

# Examples per operation and generation mode: 8 operations x 2 modes x 25 stay well under a minute;
# INTHEGRID_FUZZ_EXAMPLES=500 digs deeper when hunting.
MAX_EXAMPLES = int(os.environ.get("INTHEGRID_FUZZ_EXAMPLES", "25"))
STREAM_EXAMPLES = max(5, MAX_EXAMPLES * 3 // 5)
API_KEY = f"fuzz-{secrets.token_hex(12)}"
AUTH = {"X-API-Key": API_KEY}
STREAM_PATHS = re.compile(r"^/api/stream/")
T0 = datetime(2026, 1, 15, 10, tzinfo=UTC)

pytestmark = pytest.mark.timeout(240)

# What must never reach a client: tracebacks, exception reprs, source paths, driver or SQL errors.
INTERNALS = re.compile(
    r"Traceback \(most recent call last\)"
    r"|File \"[^\"]+\", line \d+"
    r"|\b[A-Z]\w*(?:Error|Exception)\((?:'|\")"  # an exception's repr
    r"|\b(?:asyncpg|nats|pydantic_core|starlette|uvicorn|orjson|inthegrid)\.[a-z_]+\.\w+"
    r"|site-packages|/usr/lib/python"
    r"|<\w+ object at 0x[0-9a-f]+>"
    r"|syntax error at or near|SQLSTATE|psycopg|column \"\w+\" does not exist"
)


def assert_no_internals(body: str, where: str) -> None:
    leak = INTERNALS.search(body)
    assert leak is None, f"{where}: the response leaks internals ({leak.group(0)!r}):\n{body[:2000]}"


@dataclass
class FuzzedGateway:
    url: str
    gateway: ServiceProcess


def _prices() -> list[Price]:
    """Two days of day-ahead prices for DE-LU, FR and NL, plus intraday quarter hours for DE-LU."""
    prices = [
        make_price(zone, T0 + timedelta(hours=h), base + (h % 7) * 3.5, source="fuzz", published_at=T0)
        for zone, base in (("DE-LU", 60.0), ("FR", 82.0), ("NL", 65.0))
        for h in range(48)
    ]
    prices += [
        make_price(
            "DE-LU",
            T0 + timedelta(minutes=15 * q),
            70.0 + q,
            resolution="PT15M",
            market="intraday",
            source="fuzz",
            published_at=T0,
        )
        for q in range(8)
    ]
    return prices


def _events() -> list[OpportunityEvent]:
    rule = proof_of_concept_rule()
    now = datetime.now(UTC)
    events = []
    for h, kind in ((0, EventKind.OPENED), (1, EventKind.OPENED), (1, EventKind.CLOSED)):
        value = value_pair(rule.pairs[("DE-LU", "FR")], 60.0, 82.0 + h, 1.0)
        revision = 2 if kind is EventKind.CLOSED else 1
        events.append(
            OpportunityEvent(
                kind,
                rule.name,
                Market.DAY_AHEAD,
                ("DE-LU", "FR"),
                T0 + timedelta(hours=h),
                Resolution.PT60M,
                revision,
                value,
                now,
            )
        )
    return events


async def _seed(nats_url: str) -> None:
    """Announce the proof-of-concept rule as a calculator does, then publish prices and events."""
    await reset_jetstream(nats_url)
    settings = CommonSettings.model_validate({"nats_url": nats_url, "connect_timeout_seconds": 10})
    bus = await connect_bus(settings, "fuzz-test")
    try:
        rule = proof_of_concept_rule()
        await announce_rule(bus, rule.name, rule.spec)
        items = [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in _prices()]
        items += [(opportunity_subject(e.rule, e.pair), encode_event(e), e.message_id) for e in _events()]
        await publish_all(bus, items)
    finally:
        await bus.close()


async def _recorded(database_url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        prices = await conn.fetchval("SELECT count(*) FROM prices")
        events = await conn.fetchval("SELECT count(*) FROM opportunity_events")
        return int(prices), int(events)
    except asyncpg.UndefinedTableError:
        return 0, 0
    finally:
        await conn.close()


async def drop_database(postgres: EmbeddedPostgres, database_url: str) -> None:
    conn = await asyncpg.connect(postgres.url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def _forecast_model(folder: Path) -> Path:
    """A DE-LU/FR spread model (2023 of the sample table) so /api/forecast answers with data: the
    seed's hourly prices of 2026-01-15 are the day before the documented example day 2026-01-16."""
    from inthegrid.forecast.model import SpreadForecaster, save_forecaster
    from inthegrid.sources.table import read_table

    sample = Path(__file__).parents[4] / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
    frame = read_table(sample).between("2023-01-01", "2023-12-31").frame
    return save_forecaster(SpreadForecaster().fit(frame, [("DE-LU", "FR")]), folder / "spreads.pkl")


@pytest.fixture(scope="module")
def fuzzed(
    nats_server: EmbeddedNats, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzedGateway]:
    logs: Path = tmp_path_factory.mktemp("fuzz")
    database_url = asyncio.run(create_database(postgres))
    asyncio.run(_seed(nats_server.url))
    env = {"INTHEGRID_NATS_URL": nats_server.url, "INTHEGRID_DATABASE_URL": database_url}
    recorder = ServiceProcess(["recorder"], env, logs / "recorder.log").start(wait_ready=60)
    port = free_port()
    gateway = ServiceProcess(
        ["gateway"],
        {
            **env,
            "INTHEGRID_HTTP_HOST": "127.0.0.1",
            "INTHEGRID_HTTP_PORT": str(port),
            "INTHEGRID_DASHBOARD": "false",
            "INTHEGRID_API_KEYS": API_KEY,
            "INTHEGRID_CORS_ORIGINS": "https://grid.example",
            # The limiter stays on the request path, high enough that fuzzing is never throttled.
            "INTHEGRID_RATE_LIMIT_PER_MINUTE": "1000000",
            "INTHEGRID_FORECAST_MODEL_PATH": str(_forecast_model(logs)),
        },
        logs / "gateway.log",
    )
    try:
        expected = (len(_prices()), len(_events()))
        wait_until(
            lambda: asyncio.run(_recorded(database_url)) == expected, 60, "the recorder to store the seed"
        )
        gateway.start(wait_ready=60)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return bool(httpx.get(f"{url}/health", timeout=2).json()["status"] == "healthy")
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, "gateway health")
        yield FuzzedGateway(url, gateway)
    finally:
        gateway.terminate()
        recorder.terminate()
        asyncio.run(drop_database(postgres, database_url))
    log = gateway.log_path.read_text(errors="replace")
    assert "Traceback" not in log, f"the gateway logged an unhandled exception:\n{log[-4000:]}"


def _load(fuzzed: FuzzedGateway) -> BaseSchema:
    """The OpenAPI document as the running gateway serves it. Its security schemes are not fuzzed
    (every request presents the real key, AUTH); the 401 answers are checked on their own below."""
    config = SchemathesisConfig.from_dict({"generation": {"with-security-parameters": False}})
    return schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json", config=config)


def _documented_paths() -> list[str]:
    """Every documented path, read from the app itself at collection time (no server needed)."""
    settings = GatewaySettings.model_validate({"dashboard": False})
    app = create_app(settings, start_services=False, mount_dashboard=False)
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    methods = {method for item in paths.values() for method in item}
    # Every operation is a GET today; a new method must be added to the fuzzing below on purpose.
    assert methods == {"get"}, f"fuzzing covers GET only, the API now has {sorted(methods)}"
    return sorted(paths)


def _fuzz(operation: Any, examples: int, check: Callable[[schemathesis.Case], None]) -> None:
    """``check`` on valid and on invalid requests generated from the operation's schema."""
    # An operation without parameters has no invalid request to make.
    has_parameters = any(True for _ in operation.iter_parameters())
    modes = (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if has_parameters else [GenerationMode.POSITIVE]
    )
    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            deadline=None, suppress_health_check=list(HealthCheck), max_examples=examples, database=None
        )
        def run(case: schemathesis.Case) -> None:
            check(case)

        run()


_VIOLATED_QUERY = re.compile(r"parameter `([^`]+)` in query")


def _lost_in_serialization(failure: Exception, response: schemathesis.Response) -> bool:
    """An invalid query value that reached the server as nothing at all (``zone=`` or no ``zone``):
    schemathesis' invalid ``null``/object serialises to a request that is in fact valid."""
    if not isinstance(failure, AcceptedNegativeData):
        return False
    named = _VIOLATED_QUERY.search(str(failure))
    if named is None:
        return False
    sent = parse_qs(urlsplit(str(response.request.url)).query, keep_blank_values=True).get(named.group(1), [])
    return all(value == "" for value in sent)


def validate(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """Every schemathesis check but one: zones and pairs are documented as free strings (aliases and
    EIC codes are accepted too), so a schema-valid string can be an unknown zone, rightly a 422."""
    try:
        case.validate_response(response, excluded_checks=[schemathesis.checks.positive_data_acceptance])
    except FailureGroup as group:
        if not all(_lost_in_serialization(failure, response) for failure in group.exceptions):
            raise


@pytest.mark.parametrize("path", [p for p in _documented_paths() if not STREAM_PATHS.match(p)])
def test_every_operation_survives_fuzzing(fuzzed: FuzzedGateway, path: str) -> None:
    operation = _load(fuzzed)[path]["GET"]
    statuses: set[int] = set()

    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=fuzzed.url, headers=AUTH, timeout=20)
        where = f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}"
        assert response.status_code < 500, f"{where}: {response.text[:500]}"
        assert_no_internals(response.text, where)
        validate(case, response)
        statuses.add(response.status_code)

    _fuzz(operation, MAX_EXAMPLES, check)
    # Random values rarely make a valid request for an operation with a required zone pair and a
    # bounded date range; the documented example must, every time.
    documented = _documented_request(fuzzed, path)
    assert documented.status_code == 200, f"the documented example of {path}: {documented.text[:500]}"
    statuses.add(documented.status_code)
    assert 200 in statuses, f"no fuzzed request to {path} succeeded: {sorted(statuses)}"


def _documented_request(fuzzed: FuzzedGateway, path: str) -> httpx.Response:
    """GET ``path`` with each parameter at the first example its OpenAPI description gives."""
    spec = httpx.get(f"{fuzzed.url}/openapi.json", timeout=10).json()
    query: dict[str, Any] = {}
    url = path
    for parameter in spec["paths"][path]["get"].get("parameters", []):
        examples = parameter.get("examples") or {}
        if not examples:
            continue
        value = next(iter(examples.values()))["value"]
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "query":
            query[parameter["name"]] = value
    return httpx.get(f"{fuzzed.url}{url}", params=query, headers=AUTH, timeout=20)


def test_every_operation_requires_the_key(fuzzed: FuzzedGateway) -> None:
    """Deployed mode: without the key every /api operation is 401 (and still leaks nothing)."""
    results = list(_load(fuzzed).get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "some operations of the OpenAPI document are invalid"
    api = [op for op in operations if op.path.startswith("/api/")]
    assert len(api) >= 9, [op.path for op in operations]
    for operation in api:
        path = re.sub(r"\{[^}]+\}", "DE-LU", operation.path)
        response = httpx.get(f"{fuzzed.url}{path}", headers={"X-API-Key": "wrong"}, timeout=10)
        assert response.status_code == 401, (path, response.status_code, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_no_internals(response.text, path)


def _stream_call(case: schemathesis.Case, base_url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and (unless it is the endless 200 stream) the body of one SSE request."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=AUTH)
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            case.method,
            kwargs["url"],
            params=kwargs.get("params"),
            headers={k: str(v) for k, v in (kwargs.get("headers") or {}).items()},
            cookies=kwargs.get("cookies"),
        ) as response,
    ):
        if response.status_code == 200:
            return 200, dict(response.headers), ""
        return response.status_code, dict(response.headers), response.read().decode(errors="replace")


@pytest.mark.parametrize("path", [p for p in _documented_paths() if STREAM_PATHS.match(p)])
def test_event_streams_survive_fuzzing(fuzzed: FuzzedGateway, path: str) -> None:
    operation = _load(fuzzed)[path]["GET"]
    documented = {int(code) for code in operation.definition.raw["responses"] if code.isdigit()}
    seen: set[int] = set()

    def check(case: schemathesis.Case) -> None:
        status, headers, body = _stream_call(case, fuzzed.url)
        where = f"GET {path} {case.query} {case.headers} -> {status}"
        assert status < 500, f"{where}: {body[:500]}"
        assert status in documented, f"{where}: undocumented status (documented {sorted(documented)})"
        if status == 200:
            assert headers["content-type"].startswith("text/event-stream"), where
        else:
            assert headers["content-type"].startswith("application/json"), where
            assert_no_internals(body, where)
        seen.add(status)

    _fuzz(operation, STREAM_EXAMPLES, check)
    # Resume ids at the edges: past the end, huge (beyond JetStream's uint64), negative, not a number.
    for last_id in ("0", "1", "999999", "18446744073709551616", "-1", "1e3", "07"):
        check(operation.Case(headers={"Last-Event-ID": last_id}))
    assert 200 in seen, f"no fuzzed request to {path} was accepted: {sorted(seen)}"


# Calendar edges: offsets that push a representable local time out of UTC's range, the first and last
# instants, far past and far future, and limits/offsets far beyond any integer the database takes.
EXTREME_TIMES = (
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-00:01",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "1970-01-01T00:00:00Z",
    "2015-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "+10000-01-01T00:00:00Z",
)
HISTORY_PATHS = ("/api/prices/history/DE-LU", "/api/opportunities/history")


def _extreme_check(fuzzed: FuzzedGateway, path: str, params: dict[str, str]) -> int:
    response = httpx.get(f"{fuzzed.url}{path}", params=params, headers=AUTH, timeout=20)
    where = f"GET {path} {params} -> {response.status_code}"
    assert response.status_code in (200, 422), f"{where}: {response.text[:500]}"
    assert_no_internals(response.text, where)
    if response.status_code == 422:
        assert response.json()["detail"], where
    return response.status_code


@pytest.mark.parametrize("path", HISTORY_PATHS)
def test_history_at_the_edges_of_the_calendar_is_200_or_422(fuzzed: FuzzedGateway, path: str) -> None:
    statuses = set()
    for value in EXTREME_TIMES:
        for name in ("from", "to"):
            statuses.add(_extreme_check(fuzzed, path, {name: value}))
        statuses.add(_extreme_check(fuzzed, path, {"from": value, "to": "9999-12-31T23:59:59-14:00"}))
    for name in ("limit", "offset"):
        for number in ("0", "-1", str(2**63), str(10**40), "1e309", "NaN"):
            statuses.add(_extreme_check(fuzzed, path, {name: number}))
    assert statuses == {200, 422}, statuses


@pytest.mark.parametrize("path", HISTORY_PATHS)
def test_history_with_fuzzed_dates_and_offsets_never_fails(fuzzed: FuzzedGateway, path: str) -> None:
    """Any date-time of the whole calendar, with any offset of a day either way, as from and to."""
    moments = st.datetimes(min_value=datetime.min, max_value=datetime.max)
    offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)

    def spelled(moment: datetime, minutes: int | None) -> str:
        if minutes is None:
            return moment.isoformat()
        sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
        return f"{moment.isoformat()}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    @given(
        start=st.none() | st.tuples(moments, st.none() | offsets),
        end=st.none() | st.tuples(moments, st.none() | offsets),
    )
    @settings(
        deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES * 4, database=None
    )
    def run(start: tuple[datetime, int | None] | None, end: tuple[datetime, int | None] | None) -> None:
        params = {}
        if start is not None:
            params["from"] = spelled(*start)
        if end is not None:
            params["to"] = spelled(*end)
        _extreme_check(fuzzed, path, params)

    run()

"""Shared fixtures: a migrated SQLite file per test, the service layer in-process, and a real
server on loopback with a Dojo client whose every response is checked against Dojo's contract."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from opentelemetry.sdk.trace import TracerProvider

from schema.context import Context
from server import revisions
from server.actors import POS, Actor
from server.app import create_app
from server.broker.memory import MemoryBroker
from server.clock import Clock, ManualClock, SystemClock
from server.floor.model import FloorPlan
from server.floor.service import Floor
from server.metrics import Metrics
from server.orders.amendments import Amendments
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.services import Services
from server.settings import Settings
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.stations.prep import Prep
from server.store import Store, create_store
from tests import dojo_contract, postgres
from tests.factories import make_order
from tests.processes import DOJO_AUTH, Threaded

pytest_plugins = ["tests.fake_dojo", "tests.fake_dojo_ws"]  # the fake_dojo and fake_dojo_ws fixtures


POSTGRES_URL = os.environ.get("ORDERPASS_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
NO_POSTGRES = "ORDERPASS_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    revisions.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test's database is copied from."""
    name = f"orderpass_template_{os.getpid()}"
    postgres.recreate(postgres.admin_url(), name)
    revisions.upgrade(postgres.url_of(name))
    yield name
    postgres.drop(postgres.admin_url(), name)


@contextmanager
def fresh_database(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[str]:
    """A migrated database copied from the session's template: a SQLite file in `folder`, or a
    PostgreSQL database, dropped afterwards."""
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("migrated_template"), folder / "orderpass.db")
        yield f"sqlite:///{folder}/orderpass.db"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"orderpass_test_{uuid.uuid4().hex[:12]}"
    postgres.recreate(postgres.admin_url(), name, template=template)
    yield postgres.url_of(name)
    postgres.drop(postgres.admin_url(), name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database per test: a SQLite file, and PostgreSQL where it is configured."""
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_path(database_url: str) -> Path:
    """For tests of SQLite itself (its file, its locks): skipped on the PostgreSQL run."""
    if not database_url.startswith("sqlite"):
        pytest.skip("exercises SQLite's own file and locking")
    return Path(database_url.removeprefix("sqlite:///"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, dojo_username=DOJO_AUTH[0], dojo_password=DOJO_AUTH[1])


# -- the service layer, in-process --------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = create_store(settings)
    yield store
    await store.close()


@pytest.fixture
def services(settings: Settings, store: Store, broker: MemoryBroker, clock: ManualClock) -> Services:
    """Every service, as create_app builds them, on the test's store, memory broker and clock
    (workers not started: a test that needs the live feed starts it)."""
    return Services.build(settings, store=store, broker=broker, clock=clock, metrics=Metrics())


def as_staff(services: Services, actor: Actor | None) -> Context:
    """The GraphQL context a request by this actor gets (None: nobody)."""
    return Context(services=services, actor=actor)


@pytest.fixture
def orders(services: Services) -> Orders:
    return services.orders


@pytest.fixture
def cashier(services: Services) -> Cashier:
    return services.cashier


@pytest.fixture
def prep(services: Services) -> Prep:
    return services.prep


@pytest.fixture
def amendments(services: Services) -> Amendments:
    return services.amendments


# -- a real server on loopback ------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    settings: Settings
    served: Threaded

    @property
    def server(self) -> uvicorn.Server:
        return self.served.server

    def stop(self) -> None:
        self.served.stop()


def start_server(
    settings: Settings, clock: Clock | None = None, tracer_provider: TracerProvider | None = None
) -> LiveServer:
    # As `orderpass serve` runs it: uvicorn's own proxy headers off, so ORDERPASS_TRUSTED_PROXIES
    # alone decides whom X-Forwarded-Proto is believed from (uvicorn would trust 127.0.0.1).
    config = uvicorn.Config(
        create_app(settings, clock=clock, tracer_provider=tracer_provider),
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="on",
        proxy_headers=False,
    )
    served = Threaded.start(config)
    return LiveServer(f"http://127.0.0.1:{served.port}", settings, served)


@pytest.fixture
def serve(settings: Settings) -> Iterator[Callable[..., LiveServer]]:
    """Start a server; keyword arguments override the test's settings."""
    started: list[LiveServer] = []

    def start(
        clock: Clock | None = None, tracer_provider: TracerProvider | None = None, **overrides: Any
    ) -> LiveServer:
        started.append(start_server(settings.replace(**overrides), clock, tracer_provider))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve()


class ContractViolations(list[str]):
    """Every response a test's Dojo client receives is checked against Dojo's published schemas."""

    async def check(self, response: httpx.Response) -> None:
        contract = dojo_contract.load()
        if contract is None:
            return
        await response.aread()
        request = response.request
        body = orjson.loads(response.content) if response.content else None
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        self.extend(
            f"{where}: {e}"
            for e in contract.response_errors(request.method, request.url.path, response.status_code, body)
        )


@pytest.fixture
async def dojo(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """Dojo, calling our REST shim with its Basic credentials."""
    async with dojo_client(live_server) as client:
        yield client


def dojo_client(server: LiveServer, **kwargs: Any) -> httpx.AsyncClient:
    violations = ContractViolations()

    async def verify(response: httpx.Response) -> None:
        await violations.check(response)
        assert not violations, "response breaks Dojo's contract:\n" + "\n".join(violations)

    kwargs.setdefault("auth", DOJO_AUTH)
    return httpx.AsyncClient(base_url=server.url, event_hooks={"response": [verify]}, timeout=30, **kwargs)


async def place(server: LiveServer, **overrides: Any) -> str:
    """Dojo places an order (`make_order`, with these fields overridden); its id."""
    async with dojo_client(server) as dojo:
        response = await dojo.post("/v1/orders", json=make_order(**overrides))
    assert response.status_code == 200, response.text
    order_id: str = response.json()["id"]
    return order_id


async def lay(settings: Settings, plan: FloorPlan) -> None:
    """The venue's floor in the test's database, as `orderpass venue load` lays it."""
    store = create_store(settings)
    try:
        await Floor(store=store, clock=SystemClock()).replace_all(plan, by=POS)
    finally:
        await store.close()


async def mint(settings: Settings, role: Role, name: str | None = None) -> str:
    """A staff token in the test's database, as `orderpass token create` makes one."""
    store = create_store(settings)
    try:
        return await Tokens(store=store, clock=SystemClock()).create(
            name=name or f"{role.value}-test", role=role
        )
    finally:
        await store.close()

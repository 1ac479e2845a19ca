"""Every service the doors call, built once, typed, and handed to each door, the GraphQL
context and the tests' one fixture. `running` also starts what runs beside them (the live
feed, the sweep of open sockets, the firing of timed orders, the end of ordering's pauses, the
Dojo outbox and resolver) and stops it all in reverse."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx

from server.background import Worker
from server.broker import Broker, create_broker
from server.changes.feed import Feed
from server.clock import Clock, SystemClock
from server.dojo.client import DojoClient
from server.dojo.link import Link
from server.dojo.outbox import Dispatcher
from server.dojo.resolver import Resolver
from server.floor.service import Floor
from server.insights.service import Insights
from server.kds.board import Board
from server.metrics import Metrics
from server.ordering.service import Ordering
from server.orders.amendments import Amendments
from server.orders.firing import Firing
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.settings import Settings
from server.staff.sessions import Sessions
from server.staff.tokens import Tokens
from server.stations.prep import Prep
from server.store import Store, create_store

log = logging.getLogger("orderpass")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    clock: Clock
    store: Store
    broker: Broker
    orders: Orders
    cashier: Cashier
    prep: Prep
    floor: Floor
    amendments: Amendments
    tokens: Tokens
    sessions: Sessions
    feed: Feed
    firing: Firing
    board: Board
    ordering: Ordering  # which Dojo products' new orders are paused
    insights: Insights  # a day's figures for the manager
    link: Link  # the one WebSocket to Dojo, as the store knows it
    metrics: Metrics

    @classmethod
    def build(
        cls, settings: Settings, *, store: Store, broker: Broker, clock: Clock, metrics: Metrics
    ) -> Services:
        """The services on this store and broker, none of their workers started."""
        events = timedelta(milliseconds=settings.dojo_event_delay_ms) if settings.talks_to_dojo else None
        ordering = Ordering(
            store=store,
            broker=broker,
            clock=clock,
            timezone=settings.timezone,
            minutes=settings.pause_minutes,
        )
        orders = Orders(
            store=store,
            broker=broker,
            clock=clock,
            dojo_events=events,
            auto_confirm=settings.auto_confirm,
            ordering=ordering,
        )
        prep = Prep(store=store, broker=broker, clock=clock, dojo_events=events)
        floor = Floor(store=store, clock=clock)
        tokens = Tokens(store=store, clock=clock, broker=broker)
        longest_lock = timedelta(seconds=settings.dojo_lock_max_seconds)
        return cls(
            settings=settings,
            clock=clock,
            store=store,
            broker=broker,
            orders=orders,
            cashier=Cashier(
                store=store, broker=broker, clock=clock, dojo_events=events, longest_lock=longest_lock
            ),
            prep=prep,
            floor=floor,
            amendments=Amendments(store=store, broker=broker, clock=clock, dojo_events=events),
            tokens=tokens,
            sessions=Sessions(tokens=tokens, broker=broker, every=settings.token_recheck_seconds),
            feed=Feed(orders=orders, broker=broker, max_replays=settings.max_replays),
            firing=Firing(store=store, broker=broker, clock=clock, minutes=settings.prep_minutes),
            board=Board(
                store=store,
                orders=orders,
                prep=prep,
                floor=floor,
                ordering=ordering,
                settings=settings,
                clock=clock,
            ),
            ordering=ordering,
            insights=Insights(store=store, clock=clock, settings=settings),
            link=Link(store=store, clock=clock),
            metrics=metrics,
        )

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        dojo_transport: httpx.AsyncBaseTransport | None = None,
        instrumented: Callable[[Services], AbstractAsyncContextManager[None]] | None = None,
    ) -> AsyncIterator[Services]:
        """The store, the broker and the services, with every worker started; all stopped after.
        `dojo_transport`: how calls to Dojo travel (traced, where tracing is on); `instrumented`:
        entered once the services are built and before any worker starts, left after every worker
        stopped (tracing: its listeners added to the engine while a worker's first connection ran
        through them killed the live feed, one start in ten, tests/test_tracing.py)."""
        async with AsyncExitStack() as stack:
            store = create_store(settings)
            stack.push_async_callback(store.close)
            await store.start()
            broker = create_broker(settings.broker_url)
            stack.push_async_callback(broker.close)
            services = cls.build(
                settings,
                store=store,
                broker=broker,
                clock=clock or SystemClock(),
                metrics=metrics or Metrics(),
            )
            if instrumented is not None:
                await stack.enter_async_context(instrumented(services))
            workers = (
                services.feed,
                services.sessions,
                services.firing,
                services.ordering,
                services.prep.copy,
                *services._dojo_workers(stack, dojo_transport),
            )
            for worker in workers:
                await worker.start()
                stack.push_async_callback(worker.stop)
            yield services

    def _dojo_workers(
        self, stack: AsyncExitStack, transport: httpx.AsyncBaseTransport | None
    ) -> list[Worker]:
        """With an API key: the outbox dispatcher and the payment resolver, on one client. Without
        one, both are off, and the log says so once."""
        settings = self.settings
        if settings.dojo_api_key is None:
            log.warning(
                "ORDERPASS_DOJO_API_KEY is not set: POS events to Dojo and payment-intent lookups are off"
            )
            return []
        client = DojoClient(
            base_url=settings.dojo_api_url,
            api_key=settings.dojo_api_key,
            software_house_id=settings.dojo_software_house_id,
            transport=transport,
        )
        stack.push_async_callback(client.close)
        delay = timedelta(milliseconds=settings.dojo_event_delay_ms)
        poll = settings.dojo_poll_seconds
        return [
            Dispatcher(store=self.store, dojo=client, clock=self.clock, broker=self.broker, delay=delay),
            Resolver(cashier=self.cashier, dojo=client, clock=self.clock, poll_seconds=poll),
        ]

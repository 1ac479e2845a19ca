"""The GraphQL API, on the same service layer as the Dojo REST shim."""

from __future__ import annotations

from functools import partial

import strawberry
from opentelemetry.trace import Tracer
from strawberry.extensions import ParserCache
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

import schema.enums  # noqa: F401  (registers the domain's enums first)
from schema.access import SocketSubscriptions, StaffOnly, guard
from schema.cost import TokenLimit
from schema.errors import ErrorPolicy, Schema
from schema.execution import Execution
from schema.floor import FloorMutation, FloorQuery
from schema.insights import InsightsQuery
from schema.mutations import Mutation
from schema.observing import OperationSpan, OperationTimer
from schema.ordering import OrderingMutation, OrderingQuery, OrderingSubscription
from schema.queries import Query
from schema.scalars import SCALARS
from schema.stations import StationMutation, StationQuery
from schema.subscriptions import Subscription
from schema.text import NoNulText
from schema.validation import Validation

MAX_DEPTH = 10
MAX_ALIASES = 20
LIMITS = (depth_rule(MAX_DEPTH, None), aliases_rule(MAX_ALIASES))  # strawberry's rules, made once
MAX_TOKENS = 2000


def build_schema(*, tracer: Tracer | None = None) -> strawberry.Schema:
    """`tracer`: a span per operation (schema/observing.py), while tracing; None, none."""
    query = merged(
        "Query",
        (Query, StationQuery, FloorQuery, OrderingQuery, InsightsQuery),
        "What staff read: orders, stations, the floor, what is paused, what operators watch, insights.",
    )
    mutation = merged(
        "Mutation",
        (Mutation, StationMutation, FloorMutation, OrderingMutation),
        "What staff change: orders, the venue's stations and floor, and pauses of Dojo's ordering. Each "
        "answers with the result, or an expected failure (a Problem) as a member of its result union.",
    )
    subscription = merged(
        "Subscription",
        (Subscription, OrderingSubscription),
        "Live feeds, for screens that must miss nothing: changes to orders, and what is paused.",
    )
    guard(query, mutation, subscription)
    return Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        execution_context_class=Execution,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[  # factories: each operation gets fresh extension state
            StaffOnly,
            SocketSubscriptions,
            partial(TokenLimit, max_tokens=MAX_TOKENS),
            # Every kitchen screen subscribes with the same text: one parsed document for all of
            # them (each kept its own, ~25 KB, for as long as it stayed subscribed). Keyed by the
            # text and max_tokens, so the token limit still applies; 128 texts at most.
            partial(ParserCache, maxsize=128),
            ErrorPolicy,
            OperationTimer,
            partial(Validation, rules=(*LIMITS, NoNulText)),
            *([partial(OperationSpan, tracer=tracer)] if tracer is not None else []),
        ],
    )


def merged(name: str, types: tuple[type, ...], description: str) -> type:
    """merge_types, described (it takes no description of its own)."""
    root = merge_types(name, types)
    root.__strawberry_definition__.description = description  # type: ignore[attr-defined]
    return root

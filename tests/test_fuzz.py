"""Fuzzing both doors. The REST shim: schemathesis, from the shim's own /openapi.json, against a
real server on loopback. GraphQL: Hypothesis-made variables and documents, executed in-process
on the real services, and a few over HTTP. Every run is derandomized and bounded, so a failure
here is a finding, never noise.

What fuzzing found (a NUL, which PostgreSQL cannot store; timestamps whose offset crosses the
calendar's edge; GraphQL bodies that are not UTF-8, not an object, or hold a lone surrogate) is
pinned by tests of its own below, as well as staying in the broad strategies."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import httpx
import hypothesis_graphql
import orjson
import pytest
import schemathesis
from graphql import GraphQLError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from strawberry.types import ExecutionResult

from schema import build_schema
from server.actors import Actor
from server.changes.feed import Feed
from server.dojo.openapi import document
from server.lifecycle import OrderStatus
from server.money import MAX_VALUE
from server.services import Services
from server.staff.roles import Role
from tests import dojo_contract
from tests.conftest import LiveServer, as_staff, mint
from tests.factories import make_order
from tests.processes import DOJO_AUTH

# The same examples on every run. Health checks off: each example is a real call (slow by design),
# and the in-process tests share one database across their examples on purpose, so state piles up.
FUZZ: Final = settings(
    derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)

EDGE_TIMESTAMPS: Final = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]


# -- the Dojo REST shim, against its own OpenAPI document ---------------------------------------

REST_EXAMPLES: Final = 20
BODY_LIMIT: Final = 32768  # the largest generated bodies cross it: a 413 is documented too
ENDPOINTS: Final = [(method.upper(), path) for path, item in document()["paths"].items() for method in item]
ENDPOINT_IDS: Final = [f"{method} {path}" for method, path in ENDPOINTS]
LOCK_ID: Final = "lock_fuzz"


@pytest.fixture
def shim(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(max_body_bytes=BODY_LIMIT)


def openapi(server: LiveServer) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "generation": {"allow-x00": True},  # refused with a 400 on both stores
            "checks": {  # invalid data may also be too large: a 413 rejects it just as well
                "negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 409, 413]}
            },
        }
    )
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)
    api.config.update(base_url=server.url, basic_auth=DOJO_AUTH)
    return api


def seeded(server: LiveServer, path: str) -> dict[str, str]:
    """Path parameters naming a real order (and a lock it holds), so cases get past the 404."""
    with httpx.Client(base_url=server.url, auth=DOJO_AUTH) as client:
        order_id = client.post("/v1/orders", json=make_order()).json()["id"]
        if "{lockId}" not in path:
            return {"orderId": order_id}
        expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        client.post(f"/v1/orders/{order_id}/lock", json={"lockId": LOCK_ID, "expiry": expiry})
        return {"orderId": order_id, "lockId": LOCK_ID}


def placeable(case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """Closer to an order the service places: the document cannot say that amounts share one ISO
    4217 currency or that details need dineIn or collection, and JSON Schema counts 250.0 as an
    integer where the shim's strict parsing does not. Otherwise nearly every case stops at 400."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            found = {key: "GBP" if key == "currencyCode" else walk(item) for key, item in value.items()}
            if "orderType" in found and not (found.get("dineIn") or found.get("collection")):
                found["collection"] = {"asap": True}
            return found
        if isinstance(value, list):
            return [walk(item) for item in value]
        return int(value) if isinstance(value, float) and value.is_integer() else value

    case.body = walk(case.body)
    return case


def fuzz_shim(server: LiveServer, method: str, path: str, mode: GenerationMode) -> None:
    operation = openapi(server)[path][method]
    cases = operation.as_strategy(generation_mode=mode)
    if "{orderId}" in path:
        cases |= operation.as_strategy(generation_mode=mode, path_parameters=seeded(server, path))
    if mode is GenerationMode.POSITIVE:
        cases |= cases.map(placeable)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    checks += [response_schema_conformance, negative_data_rejection]

    @settings(FUZZ, max_examples=REST_EXAMPLES)
    @given(case=cases)
    def call(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=checks)

    call()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_valid_requests_get_only_documented_answers(shim: LiveServer, method: str, path: str):
    fuzz_shim(shim, method, path, GenerationMode.POSITIVE)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_invalid_requests_are_rejected_with_documented_errors(shim: LiveServer, method: str, path: str):
    fuzz_shim(shim, method, path, GenerationMode.NEGATIVE)


# -- the same shim, against Dojo's own OpenAPI document (../shared/dojo) --------------------------

# Every operation with a body in Dojo's description that the shim serves (HandleEvent has no REST
# description; an operation without a body gives schemathesis nothing to make invalid).
DOJO_SPEC: Final = dojo_contract.load()
DOJO_PATHS: Final[dict[str, Any]] = DOJO_SPEC.spec["paths"] if DOJO_SPEC else {}
DOJO_ENDPOINTS: Final = [
    (m, p) for m, p in ENDPOINTS if "requestBody" in DOJO_PATHS.get(p, {}).get(m.lower(), {})
]


def dojos_openapi(server: LiveServer) -> schemathesis.BaseSchema:
    """Dojo's published EPOS Data API description, as schemathesis reads it, aimed at our shim."""
    config = schemathesis.Config.from_dict(
        {
            "generation": {"allow-x00": False},  # a NUL is refused before any field is read
            "checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 409, 413]}},
        }
    )
    api = schemathesis.openapi.from_path(dojo_contract.EPOS_OPENAPI, config=config)
    api.config.update(base_url=server.url, basic_auth=DOJO_AUTH)
    return api


@pytest.mark.skipif(DOJO_SPEC is None, reason=dojo_contract.MISSING)
@pytest.mark.parametrize(("method", "path"), DOJO_ENDPOINTS, ids=[f"{m} {p}" for m, p in DOJO_ENDPOINTS])
def test_what_dojos_own_description_calls_invalid_is_refused(shim: LiveServer, method: str, path: str):
    """Negative data from Dojo's document, not ours: a field of the wrong type, `null` included
    (Dojo marks no field nullable), a required one missing. Each must be refused."""
    operation = dojos_openapi(shim)[path][method]
    cases = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

    @settings(FUZZ, max_examples=REST_EXAMPLES)
    @given(case=cases)
    def call(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=[not_a_server_error, negative_data_rejection])

    call()


def declared(
    schema: dict[str, Any], body: Any, at: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """Where in `body` a value sits under a property Dojo's schema declares (not an extra key)."""
    while "$ref" in schema:
        schema = (
            DOJO_SPEC.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]] if DOJO_SPEC else {}
        )
    if isinstance(body, dict):
        for key, value in body.items():
            if key in schema.get("properties", {}):
                yield (*at, key)
                yield from declared(schema["properties"][key], value, (*at, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from declared(schema.get("items", {}), value, (*at, index))


def nulled(body: Any, at: tuple[str | int, ...]) -> Any:
    """The body with the value at `at` replaced by null."""
    if not at:
        return None
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[at[0]] = nulled(body[at[0]], at[1:])  # type: ignore[index]
    return copy


@pytest.mark.skipif(DOJO_SPEC is None, reason=dojo_contract.MISSING)
@pytest.mark.parametrize(("method", "path"), DOJO_ENDPOINTS, ids=[f"{m} {p}" for m, p in DOJO_ENDPOINTS])
def test_any_field_dojos_description_declares_sent_as_null_is_refused_by_name(
    shim: LiveServer, method: str, path: str
):
    """A body Dojo's document calls valid, with one declared field (optional or required, at any
    depth) sent as null: refused with a 400 naming that field (server/orders/model.Omittable)."""
    operation = dojos_openapi(shim)[path][method]
    schema = DOJO_PATHS[path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]

    @settings(FUZZ, max_examples=REST_EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    def call(case: schemathesis.Case[Any], data: st.DataObject) -> None:
        fields = list(declared(schema, case.body))
        if not fields:
            return  # an empty body: nothing to send as null
        at = data.draw(st.sampled_from(fields))
        case.body = nulled(case.body, at)
        response = case.call()
        assert response.status_code in (400, 413), response.text
        if response.status_code == 400:
            assert ".".join(map(str, at)) + ": " in response.json()["debugMessage"]

    call()


def test_a_nul_character_in_any_text_is_refused_over_rest(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url, auth=DOJO_AUTH) as client:
        refused = {
            "note": client.post("/v1/orders", json=make_order(note="no\x00nuts")),
            "search": client.post("/v1/orders/search", json={"dineIn": {"tableId": "\x00"}}),
        }
        looked_up = client.get("/v1/orders/ord_%00")  # no such order (404), or one no store can hold (400)
    assert {name: r.status_code for name, r in refused.items()} == {"note": 400, "search": 400}
    assert all("U+0000" in r.json()["debugMessage"] for r in refused.values())
    assert looked_up.status_code in (400, 404), looked_up.text


def test_a_timestamp_past_the_calendars_edge_is_a_400_over_rest(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url, auth=DOJO_AUTH) as client:
        order_id = client.post("/v1/orders", json=make_order()).json()["id"]
        statuses = {
            moment: client.post(
                f"/v1/orders/{order_id}/lock", json={"lockId": "l1", "expiry": moment}
            ).status_code
            for moment in EDGE_TIMESTAMPS
        }
    assert set(statuses.values()) == {400}, statuses


# -- what GraphQL clients may send --------------------------------------------------------------


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


texts = st.one_of(  # no lone surrogates: Python strings hold them, JSON and GraphQL cannot (see below)
    st.text(max_size=24),
    st.sampled_from(["", " ", "😀", "e\u0301", "\u202eevil", "' OR 1=1 --", "%s%n", "null", "x" * 3000]),
)
ints = st.one_of(  # GraphQL's Int is 32-bit: the larger ones must be refused as they are coerced
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from([0, 1, -1, 100, 101, 10**6, 2**31 - 1, -(2**31), 2**31, 2**53, -(2**63), 10**30]),
)
offsets = st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
timestamps = st.one_of(  # to the calendar's very edges, where an offset can take a moment past them
    st.datetimes(timezones=maybe(offsets)).map(datetime.isoformat),
    st.sampled_from(["", "yesterday", "2026-13-45T99:99:99Z", "2026-11-27"]),
)
money = st.fixed_dictionaries(
    {"value": ints, "currencyCode": st.one_of(st.sampled_from(["GBP", "EUR", "JPY", "gbp"]), texts)}
)
statuses = st.one_of(st.sampled_from([status.name for status in OrderStatus]), texts)
ids = st.one_of(texts, st.sampled_from(["ord_aaaaaaaaaaaaaaaaaaaa", "ord_", "1", "-1"]))
cursors = maybe(st.one_of(texts, st.sampled_from(["=", "AAAA", "eyJ0IjogMX0=", "bnVsbA", "%00", "a" * 500])))

modifiers = st.fixed_dictionaries({"name": texts, "plu": texts, "quantity": ints, "amountPerModifier": money})
SUB_ITEM: Final = {"name": texts, "plu": texts, "quantity": ints, "amountPerItem": money}
SUB_ITEM_OPTIONS: Final = {"note": maybe(texts), "modifiers": maybe(st.lists(modifiers, max_size=3))}
sub_items = st.fixed_dictionaries(SUB_ITEM, optional=SUB_ITEM_OPTIONS)
items = st.fixed_dictionaries(
    SUB_ITEM, optional={**SUB_ITEM_OPTIONS, "subItems": maybe(st.lists(sub_items, max_size=2))}
)
dine_in = st.fixed_dictionaries(
    {}, optional={"tableId": maybe(texts), "waiterId": maybe(texts), "readyAt": maybe(timestamps)}
)
collection = st.fixed_dictionaries({}, optional={"asap": st.booleans(), "collectAt": timestamps})
details = st.fixed_dictionaries(
    {"orderType": st.sampled_from(["DINE_IN", "COLLECTION"])},
    optional={"dineIn": maybe(dine_in), "collection": maybe(collection)},
)
discounts = st.fixed_dictionaries({"name": texts, "amountTotal": money}, optional={"amountPercentage": ints})
tax_lines = st.fixed_dictionaries({"amountTotal": money}, optional={"id": maybe(texts), "name": texts})
customers = st.fixed_dictionaries({}, optional={"emailAddress": maybe(texts), "phoneNumber": maybe(texts)})
payments = st.fixed_dictionaries(
    {"paymentIntentId": texts, "paidAmount": money}, optional={"tipsAmount": maybe(money)}
)
create_inputs = st.fixed_dictionaries(
    {"details": details, "items": st.lists(items, max_size=3), "totalAmount": money},
    optional={
        "reference": maybe(texts),
        "displayName": maybe(texts),
        "note": maybe(texts),
        "discounts": maybe(st.lists(discounts, max_size=2)),
        "taxLines": maybe(st.lists(tax_lines, max_size=2)),
        "serviceChargeAmount": maybe(money),
        "customer": maybe(customers),
        "payments": maybe(st.lists(payments, max_size=2)),
    },
)
A_VALID_ORDER: Final = {
    "details": {"orderType": "DINE_IN", "dineIn": {"tableId": "7"}},
    "items": [
        {"name": "Tea", "plu": "T", "quantity": 2, "amountPerItem": {"value": 250, "currencyCode": "GBP"}}
    ],
    "totalAmount": {"value": 500, "currencyCode": "GBP"},
}

RESULT: Final = (
    "{ __typename ... on Order { id status version paidAmount { value } } ... on Problem { message } }"
)
CREATE: Final = f"mutation($input: CreateOrderInput!, $key: String) {{ createOrder(input: $input, idempotencyKey: $key) {RESULT} }}"
MOVE: Final = f"mutation($id: ID!, $to: OrderStatus!, $expected: OrderStatus) {{ moveOrder(id: $id, to: $to, expected: $expected) {RESULT} }}"
CANCEL: Final = f"mutation($id: ID!, $reason: String) {{ cancelOrder(id: $id, reason: $reason) {RESULT} }}"
PAY: Final = f"mutation($id: ID!, $intent: String!, $paid: MoneyInput!, $tips: MoneyInput) {{ recordPayment(orderId: $id, paymentIntentId: $intent, paidAmount: $paid, tipsAmount: $tips) {RESULT} }}"
ORDER_FIELDS: Final = {
    "id": "id",
    "status": "status",
    "reference": "reference",
    "items": "items { name quantity modifiers { name } subItems { name } }",
    "totalAmount": "totalAmount { value formatted }",
    "paidAmount": "paidAmount { formatted }",
    "payments": "payments { paymentIntentId status counts }",
    "allowedMoves": "allowedMoves",
    "bumpTo": "bumpTo",
    "history": "history { kind fromStatus toStatus actor { kind name } detail }",
    "dineIn": "dineIn { tableId readyAt }",
    "createdAt": "createdAt",
}
PAGE: Final = "query($first: Int!, $after: String) {{ orders(first: $first, after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {fields} }} }} }} }}"
pages = st.lists(st.sampled_from(sorted(ORDER_FIELDS)), min_size=1, unique=True).map(
    lambda fields: PAGE.format(fields=" ".join(ORDER_FIELDS[field] for field in fields))
)

SDL: Final = str(build_schema())
SCALARS: Final = {
    "DateTime": timestamps.map(nodes.String),
    "JSON": st.just(nodes.String("{}")),
    "MinorUnits": st.one_of(st.integers(0, 10_000), st.integers(-1, MAX_VALUE + 1)).map(nodes.Int),
}
valid_documents = hypothesis_graphql.from_schema(SDL, custom_scalars=SCALARS, allow_x00=False)
invalid_queries = hypothesis_graphql.queries(
    SDL, custom_scalars=SCALARS, allow_x00=False, mode=hypothesis_graphql.Mode.NEGATIVE
)


# -- GraphQL in-process -------------------------------------------------------------------------

GRAPHQL_EXAMPLES: Final = 40
STAFF: Final = Actor.staff("fuzzer", Role.ADMIN)
MASKED: Final = "Unexpected error."
PROBLEMS: Final = {"NotFound", "Conflict", "InvalidMove", "InvalidInput", "Forbidden"}
Execute = Callable[..., Awaitable[ExecutionResult]]


@pytest.fixture
def execute(services: Services) -> Execute:
    """Run a document as an admin, on a fresh context (and DataLoader) each time, as a request does."""
    schema = build_schema()
    feed = Feed(orders=services.orders, broker=services.broker, poll_seconds=0.2)  # never started

    async def run(document: str, **variables: Any) -> ExecutionResult:
        context = as_staff(dataclasses.replace(services, feed=feed), STAFF)
        return await schema.execute(document, variable_values=variables, context_value=context)

    return run


@pytest.fixture
async def order_id(execute: Execute) -> str:
    result = await execute(CREATE, input=A_VALID_ORDER)
    assert result.data is not None, result.errors
    return str(result.data["createOrder"]["id"])


def masked(result: ExecutionResult) -> list[GraphQLError]:
    """Errors the schema did not expect: a bug, logged with its traceback and hidden from the caller."""
    return [
        error
        for error in result.errors or []
        if (error.extensions or {}).get("code") == "INTERNAL" or error.message == MASKED
    ]


def answered(result: ExecutionResult, field: str) -> str:
    """The union member a mutation answered, or "errors" when coercion refused its variables."""
    assert not masked(result), masked(result)
    if result.data is None:
        assert result.errors, "neither data nor errors"
        return "errors"
    typename: str = result.data[field]["__typename"]
    assert typename in {"Order", *PROBLEMS}, typename
    return typename


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(order=create_inputs, key=maybe(texts))
@example(order=A_VALID_ORDER, key=None)
async def test_create_order_answers_an_order_or_a_typed_problem_for_any_input(execute: Execute, order, key):
    answered(await execute(CREATE, input=order, key=key), "createOrder")


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(to=statuses, expected=maybe(statuses), unknown=ids, real=st.booleans())
async def test_move_order_answers_an_order_or_a_typed_problem_for_any_move(
    execute: Execute, order_id: str, to, expected, unknown, real
):
    answered(await execute(MOVE, id=order_id if real else unknown, to=to, expected=expected), "moveOrder")


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(reason=maybe(texts | st.just("why " * 5000)), unknown=ids, real=st.booleans())
async def test_cancel_order_answers_an_order_or_a_typed_problem_for_any_reason(
    execute: Execute, order_id: str, reason, unknown, real
):
    answered(await execute(CANCEL, id=order_id if real else unknown, reason=reason), "cancelOrder")


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(intent=texts, paid=money, tips=maybe(money), unknown=ids, real=st.booleans())
async def test_record_payment_answers_an_order_or_a_typed_problem_for_any_money(
    execute: Execute, order_id: str, intent, paid, tips, unknown, real
):
    variables = {"id": order_id if real else unknown, "intent": intent, "paid": paid, "tips": tips}
    kind = answered(await execute(PAY, **variables), "recordPayment")
    if paid["value"] < 0:
        assert kind in {"InvalidInput", "NotFound", "errors"}


ADD: Final = f"mutation($id: ID!, $items: [ItemInput!]!, $key: String) {{ addItems(orderId: $id, items: $items, idempotencyKey: $key) {RESULT} }}"
VOID: Final = f"mutation($id: ID!, $lines: [Int!]!, $reason: String) {{ voidItems(orderId: $id, lines: $lines, reason: $reason) {RESULT} }}"
BUMP: Final = f"mutation($id: ID!, $station: String!, $lines: [Int!]) {{ bumpStation(orderId: $id, station: $station, lines: $lines) {RESULT} }}"
STATION: Final = (
    "mutation($input: StationInput!) { saveStation(input: $input) { __typename ... on Problem { message } } }"
)
RULES: Final = "mutation($station: String!, $rules: [RuleInput!]!) { setRoutingRules(station: $station, rules: $rules) { __typename ... on Problem { message } } }"
rule_kinds = st.one_of(st.sampled_from(["PLU", "PLU_PREFIX", "NAME"]), texts)


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(added=st.lists(items, max_size=3), key=maybe(texts), unknown=ids, real=st.booleans())
async def test_add_items_answers_an_order_or_a_typed_problem_for_any_items(
    execute: Execute, order_id: str, added, key, unknown, real
):
    answered(await execute(ADD, id=order_id if real else unknown, items=added, key=key), "addItems")


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(lines=st.lists(ints, max_size=4), reason=maybe(texts), station=texts, real=st.booleans())
async def test_void_and_bump_answer_an_order_or_a_typed_problem_for_any_lines(
    execute: Execute, order_id: str, lines, reason, station, real
):
    target = order_id if real else "ord_unknown"
    answered(await execute(VOID, id=target, lines=lines, reason=reason), "voidItems")
    answered(await execute(BUMP, id=target, station=station, lines=lines or None), "bumpStation")


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(
    station=st.fixed_dictionaries(
        {"id": texts, "name": texts}, optional={"position": ints, "isDefault": st.booleans()}
    ),
    rules=st.lists(st.fixed_dictionaries({"kind": rule_kinds, "pattern": texts}), max_size=3),
)
async def test_station_admin_answers_stations_or_a_typed_problem_for_any_input(
    execute: Execute, station, rules
):
    for query, variables, field in (
        (STATION, {"input": station}, "saveStation"),
        (RULES, {"station": station["id"], "rules": rules}, "setRoutingRules"),
    ):
        result = await execute(query, **variables)
        assert not masked(result), masked(result)
        if result.data is not None:
            assert result.data[field]["__typename"] in {"Stations", *PROBLEMS}


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(page=pages, first=ints, after=cursors)
async def test_an_orders_page_is_data_or_an_error_with_a_stable_code(
    execute: Execute, order_id: str, page, first, after
):
    result = await execute(page, first=first, after=after)
    assert not masked(result), masked(result)
    if -(2**31) <= first < 2**31 and not 1 <= first <= 100:
        assert result.errors, "a page size outside 1-100 must be refused"
    for error in result.errors or []:
        if error.path:  # the resolver ran: the error is one of ours, with its code
            assert (error.extensions or {}).get("code") == "INVALID_INPUT", error


@settings(FUZZ, max_examples=GRAPHQL_EXAMPLES)
@given(document=valid_documents | invalid_queries)
async def test_any_document_built_from_the_schema_is_never_an_unexpected_error(
    execute: Execute, order_id: str, document
):
    result = await execute(document)
    assert not masked(result), masked(result)


async def test_a_nul_character_in_any_text_is_refused_over_graphql(execute: Execute):
    order = {**A_VALID_ORDER, "note": "no\x00nuts"}
    result = await execute(CREATE, input=order)
    assert answered(result, "createOrder") == "errors"  # before it runs: schema/text.py
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "INVALID_INPUT"}


async def test_a_timestamp_past_the_calendars_edge_is_invalid_input_not_masked(execute: Execute):
    for moment in EDGE_TIMESTAMPS:
        order = {**A_VALID_ORDER, "details": {"orderType": "DINE_IN", "dineIn": {"readyAt": moment}}}
        assert answered(await execute(CREATE, input=order), "createOrder") == "InvalidInput"


async def test_reading_since_past_the_calendars_edge_is_refused_not_masked(execute: Execute):
    for query in [
        "query($t: DateTime!) { kitchenStats(since: $t) { since } }",
        "query($t: DateTime) { orders(filter: {createdAfter: $t}) { totalCount } }",
    ]:
        result = await execute(query, t=EDGE_TIMESTAMPS[1])
        assert result.errors
        assert not masked(result), masked(result)


# -- GraphQL over HTTP --------------------------------------------------------------------------

HTTP_EXAMPLES: Final = 15
graphql_bodies = st.one_of(
    st.builds(lambda order: {"query": CREATE, "variables": {"input": order}}, create_inputs),
    st.builds(lambda to, i: {"query": MOVE, "variables": {"id": i, "to": to}}, statuses, ids),
    st.builds(
        lambda paid, i: {"query": PAY, "variables": {"id": i, "intent": "pi_1", "paid": paid}}, money, ids
    ),
    st.builds(
        lambda page, first, after: {"query": page, "variables": {"first": first, "after": after}},
        pages,
        ints,
        cursors,
    ),
    st.builds(lambda query, variables: {"query": query, "variables": variables}, texts, maybe(texts | ints)),
    texts.map(lambda text: ("{" + text).encode()),  # not an operation at all
)


@pytest.fixture
async def bearer(live_server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {await mint(live_server.settings, Role.ADMIN)}"}


async def post_graphql(
    server: LiveServer, bearer: dict[str, str], body: dict[str, Any] | bytes
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {**bearer, "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await client.post("/graphql", content=content, headers=headers)


@settings(FUZZ, max_examples=HTTP_EXAMPLES)
@given(body=graphql_bodies)
async def test_graphql_over_http_never_answers_a_server_error(live_server: LiveServer, bearer, body):
    response = await post_graphql(live_server, bearer, body)
    assert response.status_code < 500, response.text
    assert '"INTERNAL"' not in response.text, response.text


async def test_a_body_that_is_not_a_json_object_is_a_400_over_graphql(live_server: LiveServer, bearer):
    bodies = [b'{"query": "\xff"}', b"null", b"1", b'"{ lastSequence }"', b"true"]
    statuses = {body: (await post_graphql(live_server, bearer, body)).status_code for body in bodies}
    assert set(statuses.values()) == {400}, statuses


async def test_a_lone_surrogate_in_variables_is_refused_not_masked(live_server: LiveServer, bearer):
    body = orjson.dumps({"query": CREATE, "variables": {"input": {**A_VALID_ORDER, "note": "NOTE"}}})
    response = await post_graphql(live_server, bearer, body.replace(b"NOTE", b"\\ud800"))
    assert response.status_code == 400, response.text


async def test_a_nul_spelled_in_a_document_or_its_variables_is_refused_before_anything_runs(
    live_server: LiveServer, bearer
):
    in_variables = {"query": CREATE, "variables": {"input": {**A_VALID_ORDER, "note": "no\x00nuts"}}}
    in_document = {"query": 'mutation { cancelOrder(id: "ord_1", reason: "\\u0000") { __typename } }'}
    for body in (in_variables, in_document):
        response = await post_graphql(live_server, bearer, body)
        assert response.json()["data"] is None, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        assert "U+0000" in response.text

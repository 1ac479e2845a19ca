"""A document is validated once for each text; what an operation is sent with, every time
(schema/validation.py)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from graphql import ASTValidationRule, parse, specified_rules

from schema import build_schema
from schema.context import Context
from schema.cost import MAX_COST
from schema.validation import _PASSED, KEPT, document_errors
from server.actors import Actor
from server.services import Services
from server.staff.roles import Role
from tests.conftest import as_staff

SCHEMA = build_schema()
ADMIN = Actor.staff("admin", Role.ADMIN)
BOARD = "query Board($first: Int!) { activeOrders(first: $first) { id reference } }"


class Walks(ASTValidationRule):
    """A rule that counts the walks it takes part in: graphql-core makes one for each."""

    made = 0

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        Walks.made += 1


def walks(text: str, rules: tuple[type[ASTValidationRule], ...]) -> int:
    before = Walks.made
    document_errors(SCHEMA._schema, text, parse(text), rules)
    return Walks.made - before


@pytest.fixture
def context(services: Services) -> Context:
    return as_staff(services, ADMIN)


def test_a_text_that_passed_is_not_walked_again():
    rules = (*specified_rules, Walks)
    text = "{ activeOrders { id status } }"
    assert walks(text, rules) == 1
    assert walks(text, rules) == 0
    assert walks(text + " ", rules) == 1  # another text
    assert walks(text, (*rules, type("Other", (ASTValidationRule,), {}))) == 1  # other rules


def test_a_text_that_failed_is_walked_every_time():
    rules = (*specified_rules, Walks)
    text = "{ activeOrders { noSuchField } }"
    for _ in range(3):
        before = Walks.made
        errors = document_errors(SCHEMA._schema, text, parse(text), rules)
        assert Walks.made - before == 1
        assert [error.message for error in errors] == ["Cannot query field 'noSuchField' on type 'Order'."]


def test_no_more_texts_are_kept_than_kept_allows():
    rules = (*specified_rules, Walks)
    texts = [f"{{ a{n}: activeOrders {{ id }} }}" for n in range(KEPT + 1)]
    assert sum(walks(text, rules) for text in texts) == KEPT + 1
    assert walks(texts[-1], rules) == 0  # the newest is kept
    assert walks(texts[0], rules) == 1  # the oldest was let go


async def test_a_kept_text_is_still_refused_when_its_variables_make_it_too_costly(context: Context):
    for _ in range(2):  # the second time, the text is known to be valid
        small = await SCHEMA.execute(BOARD, variable_values={"first": 5}, context_value=context)
        assert small.errors is None, small.errors
    costly = f"query Boards($first: Int!) {{ {' '.join(f'b{n}: activeOrders(first: $first) {{ id }}' for n in range(10))} }}"
    assert (await SCHEMA.execute(costly, variable_values={"first": 1}, context_value=context)).errors is None
    refused = await SCHEMA.execute(costly, variable_values={"first": 1000}, context_value=context)
    assert refused.data is None
    assert refused.errors is not None
    [error] = refused.errors
    assert error.extensions is not None
    assert error.extensions["code"] == "TOO_COSTLY"
    assert error.extensions["cost"] > MAX_COST


async def test_a_kept_text_is_still_refused_with_a_nul_in_its_variables(context: Context):
    one = "query($id: ID!) { order(id: $id) { id } }"
    assert (await SCHEMA.execute(one, variable_values={"id": "ord_x"}, context_value=context)).errors is None
    refused = await SCHEMA.execute(one, variable_values={"id": "ord_\x00x"}, context_value=context)
    assert refused.errors is not None
    assert [error.extensions for error in refused.errors] == [{"code": "INVALID_INPUT"}]


async def test_a_kept_text_of_several_operations_still_needs_a_name(context: Context):
    both = "query A { activeOrders(first: 1) { id } } query B { lastSequence }"
    named = await SCHEMA.execute(both, operation_name="B", context_value=context)
    assert named.errors is None, named.errors
    unnamed = await SCHEMA.execute(both, context_value=context)
    assert unnamed.errors is not None
    assert [error.extensions for error in unnamed.errors] == [{"code": "OPERATION_NAME_REQUIRED"}]


async def test_a_kept_text_is_still_refused_without_an_actor(services: Services):
    text = "{ lastSequence }"
    assert (await SCHEMA.execute(text, context_value=as_staff(services, ADMIN))).errors is None
    nobody = await SCHEMA.execute(text, context_value=Context(services=services, actor=None))
    assert nobody.data is None
    assert nobody.errors is not None
    assert [error.extensions for error in nobody.errors] == [{"code": "UNAUTHORIZED"}]


def test_a_schema_let_go_takes_what_it_remembered_with_it():
    """Each schema remembers its own texts, weakly: a test's app, built and dropped, leaves
    nothing behind (the memo once held every schema it had seen)."""
    other = build_schema()
    text = "{ lastSequence }"
    document_errors(other._schema, text, parse(text), tuple(specified_rules))
    assert other._schema in _PASSED
    gone = weakref.ref(other._schema)
    del other
    gc.collect()
    assert gone() is None

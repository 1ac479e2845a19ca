"""Trusted builds what model_construct builds, without its walk over the aliases."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from server.money import Money
from server.orders.model import Modifier, OrderItem, OrderSubItem
from server.trusted import Trusted, trusted


def test_a_trusted_model_is_what_model_construct_builds() -> None:
    price = Money.of(1095, "GBP")
    given: dict[str, Any] = {"name": "Burger", "plu": "BRG-01", "quantity": 2, "amount_per_item": price}
    built, constructed = Trusted(OrderItem)(**given), OrderItem.model_construct(**given)
    assert built == constructed
    assert built.model_fields_set == constructed.model_fields_set == set(given)
    assert built.model_dump(mode="json", by_alias=True) == constructed.model_dump(mode="json", by_alias=True)
    assert built.model_dump(exclude_defaults=True) == constructed.model_dump(exclude_defaults=True)


def test_fields_not_given_take_their_defaults_and_factories() -> None:
    class Listed(BaseModel):
        name: str
        tags: list[str] = Field(default_factory=list)
        note: str | None = None

    first, second = trusted(Listed)(name="a"), trusted(Listed)(name="b")
    assert (first.tags, first.note, first.model_fields_set) == ([], None, {"name"})
    assert first.tags is not second.tags  # a factory's value is made for each model


def test_one_builder_per_model() -> None:
    assert trusted(Modifier) is trusted(Modifier)
    assert trusted(OrderSubItem) is not trusted(OrderItem)


def test_a_model_with_a_post_init_is_refused() -> None:
    class Hooked(BaseModel):
        name: str

        def model_post_init(self, context: object) -> None:
            pass

    with pytest.raises(TypeError, match="model_construct"):
        Trusted(Hooked)

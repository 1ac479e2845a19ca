"""`trusted` builds what model_construct builds, without its walk over every field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from server.money import Money
from server.orders.model import Modifier, OrderItem
from server.trusted import trusted


def same(built: BaseModel, constructed: BaseModel) -> None:
    assert built == constructed
    assert type(built) is type(constructed)
    assert built.model_fields_set == constructed.model_fields_set
    assert built.model_dump(mode="json", by_alias=True) == constructed.model_dump(mode="json", by_alias=True)
    assert built.model_dump(exclude_unset=True) == constructed.model_dump(exclude_unset=True)
    assert built.model_copy(update={"quantity": 3}) == constructed.model_copy(update={"quantity": 3})


def test_a_trusted_model_with_every_field_named_is_what_model_construct_builds() -> None:
    price = Money.of(1095, "GBP")
    gravy = trusted(Modifier, {"name": "Gravy", "plu": "M-GRA", "quantity": 1, "amount_per_modifier": price})
    given: dict[str, Any] = {
        "name": "Pie",
        "amount_per_item": price,
        "plu": "PIE",
        "quantity": 2,
        "note": None,
        "modifiers": (gravy,),
        "sub_items": (),
    }
    same(trusted(OrderItem, dict(given)), OrderItem.model_construct(**given))


def test_fields_not_named_take_their_defaults_as_model_construct_gives_them() -> None:
    given: dict[str, Any] = {
        "name": "Burger",
        "plu": "BRG-01",
        "quantity": 2,
        "amount_per_item": Money.of(1, "GBP"),
    }
    same(trusted(OrderItem, dict(given)), OrderItem.model_construct(**given))

    class Listed(BaseModel):
        name: str
        tags: list[str] = Field(default_factory=list)

    first, second = trusted(Listed, {"name": "a"}), trusted(Listed, {"name": "b"})
    assert (first.tags, first.model_fields_set) == ([], {"name"})
    assert first.tags is not second.tags  # a factory's value is made for each model


def test_a_model_with_private_state_or_a_hook_is_built_by_model_construct() -> None:
    class Hooked(BaseModel):
        name: str
        _seen: int = PrivateAttr(default=0)

        def model_post_init(self, context: object) -> None:
            self._seen += 1

    built = trusted(Hooked, {"name": "x"})
    assert built._seen == 1  # the hook ran: model_construct built it
    assert built == Hooked.model_construct(name="x")


def test_one_amount_is_one_money() -> None:
    assert Money.of(450, "GBP") is Money.of(450, "GBP")
    assert Money.of(450, "GBP") != Money.of(450, "EUR")

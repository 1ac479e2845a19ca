"""Pydantic models made from values already checked: an order read back from the rows we wrote.

`model_construct` skips validation but still walks every field in Python (aliases, defaults,
which fields were set): ~5 us for an item, and reading 500 open orders makes ~20,000 of them
(bench/reads.py). `trusted` sets the instance's dict directly, ~2 us, and gives exactly what
`model_construct` gives when every field is named; where one is not (a default to fill), it is
`model_construct` itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_SET = object.__setattr__


def trusted(model: type[M], fields: dict[str, Any]) -> M:
    """The model holding `fields` (this dict itself: the caller hands it over)."""
    if len(fields) != _plain_fields(model):
        return model.model_construct(**fields)
    made = model.__new__(model)
    _SET(made, "__dict__", fields)
    _SET(made, "__pydantic_fields_set__", set(fields))
    _SET(made, "__pydantic_extra__", None)
    _SET(made, "__pydantic_private__", None)
    return made


_PLAIN: dict[type[BaseModel], int] = {}


def _plain_fields(model: type[BaseModel]) -> int:
    """How many fields the model has, or -1 where `model_construct` does more than set them
    (a post-init hook, private attributes, extra fields kept)."""
    found = _PLAIN.get(model)
    if found is None:
        simple = not (
            model.__pydantic_post_init__
            or model.__private_attributes__
            or model.model_config.get("extra") == "allow"
        )
        found = _PLAIN[model] = len(model.__pydantic_fields__) if simple else -1
    return found

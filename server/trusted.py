"""Pydantic models built from values already validated (the rows the store wrote from validated
models): what `model_construct` does, without its walk over every field's aliases on every call.
An order read back is some forty models (items, modifiers, amounts), and that walk was a third of
GetOrderById's time (bench/reads.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


class Trusted(Generic[M]):
    """`Trusted(Model)(**values)` is `Model.model_construct(**values)`: the same fields, defaults
    for those not given, the same `model_fields_set`, no validation."""

    __slots__ = ("defaults", "factories", "model", "names")

    def __init__(self, model: type[M]) -> None:
        extra = model.model_config.get("extra") == "allow"
        if model.__pydantic_post_init__ or model.__pydantic_root_model__ or extra:
            raise TypeError(f"{model.__name__} needs model_construct")
        fields = model.model_fields
        self.model = model
        self.names = tuple(fields)
        self.defaults = {n: f.default for n, f in fields.items() if f.default is not PydanticUndefined}
        self.factories: dict[str, Callable[[], Any]] = {}
        for name, info in fields.items():
            if info.default_factory is not None:
                if info.default_factory_takes_validated_data:
                    raise TypeError(f"{model.__name__}.{name}: a default factory reading other fields")
                self.factories[name] = info.default_factory  # type: ignore[assignment]

    def __call__(self, **values: Any) -> M:
        made = self.model.__new__(self.model)
        given = set(values)
        fields: dict[str, Any] = {}
        for name in self.names:
            if name in values:
                fields[name] = values[name]
            elif name in self.factories:
                fields[name] = self.factories[name]()
            elif name in self.defaults:
                fields[name] = self.defaults[name]
        _set(made, "__dict__", fields)
        _set(made, "__pydantic_fields_set__", given & fields.keys())
        _set(made, "__pydantic_extra__", None)
        _set(made, "__pydantic_private__", None)
        return made


_BUILDERS: dict[type[BaseModel], Trusted[Any]] = {}


def trusted(model: type[M]) -> Trusted[M]:
    """The one Trusted builder of each model."""
    found: Trusted[M] | None = _BUILDERS.get(model)
    if found is None:
        found = _BUILDERS[model] = Trusted(model)
    return found

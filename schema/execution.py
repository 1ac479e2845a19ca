"""How orderpass runs GraphQL: two shortcuts over graphql-core's executor, each giving the
answer graphql-core would.

**A subscription event once per change and query shape, not once per screen.** Fifty kitchen
screens on the same stage ask the same selection set of every change; executing it fifty times
was the limit of live fan-out (bench/RESULTS.md). The subscription yields one shared
`OrderChange` per committed change; the executor keeps each result on it, keyed by the query's
text, operation and the variables its selection set uses (not `since` or `statuses`, which only
choose the changes), so every other screen with that shape gets the same result.

**Plain objects projected, not resolved field by field.** graphql-core completes every field of
every object on its own (a resolver call, an info object, an awaitable check, a path): 500 open
orders with a ticket's selection are ~75,000 fields, and that walk was most of `activeOrders`
(bench/reads.py). Where every field an object's selection asks for is plain (an attribute, or a
synchronous method of the object that takes nothing else: `Money.formatted`, `Order.bumpTo`), no
extension wraps resolvers, and the selection defers nothing, the selection is compiled once per
request into a function from the object to its answer. Anything it cannot complete exactly as
graphql-core would (a null where the schema says non-null, a value a scalar refuses, a method that
raises) sends that object back to graphql-core, which produces the answer and its located errors
as it always did; an object with any other field (`history`, `table`, a field with arguments)
is never compiled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from operator import attrgetter
from typing import Any, cast

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    is_enum_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.language import Visitor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

Complete = Callable[[Any], Any]


class Execution(StrawberryGraphQLCoreExecutionContext):
    _projections: dict[tuple[GraphQLObjectType, int], tuple[Any, Complete | None]]

    def build_per_event_executor(self, payload: Any) -> Any:
        """An event whose result another screen of the same shape already has is answered with
        it, without copying this executor for it (a copy per screen per change was ~7% of
        a thousand screens' fan-out, bench/fanout.py). Otherwise each event gets its own memos of
        collected subfields and projections: graphql-core's copy shares the subscription's, keyed
        by lists each event makes anew, so it kept ~6 entries for every change a screen was ever
        sent (a replay of 1000 changes to 50 subscriptions held ~300k of them, and every full
        collection walked them all: pauses of 0.5-1 s)."""
        memo: dict[Any, Any] | None = getattr(payload, "rendered", None)
        key = self._shape() if memo is not None else None
        if memo is not None and key is not None and key in memo:
            return _Rendered(memo[key])
        executor = cast(Execution, super().build_per_event_executor(payload))
        executor._relevant_sub_fields = {}
        executor._projections = {}
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        memo: dict[Any, Any] | None = getattr(self.root_value, "rendered", None)
        key = self._shape() if memo is not None else None
        if memo is None or key is None:
            return super().execute_operation(serially)
        if key not in memo:
            result = super().execute_operation(serially)
            memo[key] = asyncio.ensure_future(result) if isinstance(result, Awaitable) else result
        return _Rendered(memo[key]).execute_operation(serially)

    def _shape(self) -> tuple[Any, ...] | None:
        """What a subscription's event renders by: the query's text, its operation and the
        variables its selection set uses; None for anything but a subscription. The same for
        every event of one subscription, so worked out once (the per-event copies share it)."""
        try:
            return self._shape_key
        except AttributeError:
            pass
        operation = self.operation
        key = None
        if operation.operation is OperationType.SUBSCRIPTION and operation.loc is not None:
            body = operation.loc.source.body
            name = operation.name.value if operation.name else None
            used = _selection_variables(body, name, operation, list(self.fragments.values()))
            values = self.variable_values.coerced
            key = (body, name, tuple((variable, repr(values.get(variable))) for variable in used))
        self._shape_key: tuple[Any, ...] | None = key
        return key

    # -- plain objects ------------------------------------------------------------------------

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        project = self._projection(return_type, field_details_list)
        if project is not None:
            try:
                return project(result)
            except Exception:  # a refusal or a raising method: graphql-core completes it, with its error
                pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _projection(self, object_type: GraphQLObjectType, field_details_list: Any) -> Complete | None:
        """The compiled answer to this selection of this type, or None where it has a field that
        is not plain. Memoized like graphql-core's collected subfields, on the identity of the
        list of field details (kept alive beside it, so its id is not reused meanwhile)."""
        try:
            memo = self._projections
        except AttributeError:
            memo = self._projections = {}
        key = (object_type, id(field_details_list))
        found = memo.get(key)
        if found is None:
            found = memo[key] = (field_details_list, self._compile(object_type, field_details_list))
        return found[1]

    def _compile(self, object_type: GraphQLObjectType, field_details_list: Any) -> Complete | None:
        wrapped = self.middleware_manager is not None and self.middleware_manager.middlewares
        if wrapped or object_type.is_type_of is not None:  # an extension's `resolve`, or a type check
            return None
        grouped, deferred, forbidden = self.collect_subfields(object_type, field_details_list)
        if deferred or forbidden:
            return None
        fields: list[tuple[str, Complete, Complete]] = []
        for response_key, details in grouped.items():
            name = details[0].node.name.value
            if name == "__typename":
                fields.append((response_key, _constant(object_type.name), _same))
                continue
            field = object_type.fields.get(name)
            read = _reader(field) if field is not None else None
            complete = self._completer(field.type, details) if field is not None and read else None
            if read is None or complete is None:
                return None
            fields.append((response_key, read, complete))
        frozen = tuple(fields)

        def project(source: Any) -> dict[str, Any]:
            return {key: complete(read(source)) for key, read, complete in frozen}

        return project

    def _completer(self, of: GraphQLOutputType, details: Any, *, required: bool = False) -> Complete | None:
        """How to complete a value of this type (`required`: inside a non-null), in one call."""
        if is_non_null_type(of):
            return self._completer(of.of_type, details, required=True)
        if is_list_type(of):
            inner = self._completer(of.of_type, details)
            return None if inner is None else _each(inner, required)
        if is_enum_type(of):
            return _enum(of.serialize, required)
        if is_leaf_type(of):
            return _leaf(of.serialize, _ITSELF.get(of.name), required)
        if is_object_type(of):
            project = self._projection(of, details)
            return None if project is None else _object(project, required)
        return None  # an interface or a union: graphql-core resolves its type


def _reader(field: GraphQLField) -> Complete | None:
    """How to read a plain field off its object, or None if it is not plain."""
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or field.args or definition.extensions:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        is_default = getattr(field.resolve, "_is_default", False)
        return (
            attrgetter(definition.python_name)
            if is_default and definition.default_resolver is getattr
            else None
        )
    takes_only_self = resolver.self_parameter is not None and not (
        resolver.arguments or resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter
    )
    if resolver.is_async or not takes_only_self:
        return None
    method: Complete = resolver.wrapped_func  # type: ignore[assignment]
    return method


class _Unplain(Exception):
    """A value graphql-core would complete with an error: it is left to graphql-core."""


def _same(value: Any) -> Any:
    return value


def _constant(value: str) -> Complete:
    return lambda _source: value


# Built-in scalars that serialize a value of exactly this Python type as the value itself
# (graphql-core's serialize_string, serialize_id, serialize_boolean, serialize_float); Int has a
# range to keep, so it goes through serialize.
_ITSELF: dict[str, type] = {"String": str, "ID": str, "Boolean": bool, "Float": float}


def _absent(required: bool) -> None:
    if required:
        raise _Unplain  # graphql-core's "Cannot return null for non-nullable field"


def _each(inner: Complete, required: bool) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return _absent(required)
        if not isinstance(value, list | tuple):
            raise _Unplain  # an iterator, a generator: graphql-core's to walk
        return [inner(item) for item in value]

    return complete


def _serialized(serialize: Callable[[Any], Any], value: Any, required: bool) -> Any:
    """A leaf's value as graphql-core's complete_leaf_value gives it, or _Unplain where that is an error."""
    if value is None:
        return _absent(required)
    done = serialize(value)
    if done is None or done is Undefined:
        raise _Unplain
    return done


def _leaf(serialize: Callable[[Any], Any], itself: type | None, required: bool) -> Complete:
    def complete(value: Any) -> Any:
        return value if type(value) is itself else _serialized(serialize, value, required)

    return complete


def _enum(serialize: Callable[[Any], Any], required: bool) -> Complete:
    """An enum's few values, each serialized once."""
    names: dict[Any, Any] = {}

    def complete(value: Any) -> Any:
        found = names.get(value)
        if found is None:
            found = _serialized(serialize, value, required)
            if found is not None:
                names[value] = found
        return found

    return complete


def _object(project: Complete, required: bool) -> Complete:
    def complete(value: Any) -> Any:
        return _absent(required) if value is None else project(value)

    return complete


class _Rendered:
    """An event already rendered for another screen of the same shape: its result, shared."""

    __slots__ = ("found",)

    def __init__(self, found: Any) -> None:
        self.found = found

    def execute_operation(self, serially: bool | None = None) -> Any:
        found = self.found
        return _shared(found) if isinstance(found, asyncio.Future) else found


async def _shared(future: asyncio.Future[Any]) -> Any:
    return await asyncio.shield(future)


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


_BY_QUERY: dict[tuple[str, str | None], tuple[str, ...]] = {}


def _selection_variables(
    body: str, name: str | None, operation: OperationDefinitionNode, fragments: list[Any]
) -> tuple[str, ...]:
    """The variables used below the root field or in fragments: those that shape what a change
    renders (the root field's own arguments only choose which changes come)."""
    found = _BY_QUERY.get((body, name))
    if found is None:
        visitor = _Variables()
        for selection in operation.selection_set.selections:
            for child in getattr(getattr(selection, "selection_set", None), "selections", ()):
                visit(child, visitor)
        for fragment in fragments:
            visit(fragment, visitor)
        found = tuple(sorted(visitor.names))
        if len(_BY_QUERY) > 256:
            _BY_QUERY.clear()
        _BY_QUERY[(body, name)] = found
    return found

"""The extensions' hooks, looked up once per operation (schema/hooks.py): every extension that has
a hook still runs it for every result, and an operation with none of them streams as before."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from schema.errors import ErrorPolicy, Schema


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self, fail_at: int = -1) -> AsyncGenerator[int, None]:
        for n in range(3):
            if n == fail_at:
                raise RuntimeError("a bug of ours, with a secret in it")
            yield n


class Counting(SchemaExtension):
    """Says how many results it has seen, in each result's extensions, and marks each one."""

    def __init__(self) -> None:
        self.seen = 0

    def get_results(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self.seen += 1
        result.extensions = {**(result.extensions or {}), "marked": self.seen}
        yield


class Quiet(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        yield


async def streamed(extensions: list[Any], query: str) -> list[Any]:
    schema = Schema(query=Query, subscription=Subscription, extensions=extensions)
    results = await schema.subscribe(query)
    assert not isinstance(results, Exception)
    return [result async for result in results]


async def test_an_extension_with_hooks_sees_and_marks_every_streamed_result():
    results = await streamed([Quiet, Counting, Quiet], "subscription { count }")
    assert [result.data for result in results] == [{"count": n} for n in range(3)]
    assert [result.extensions for result in results] == [{"seen": n, "marked": n + 1} for n in range(3)]


async def test_without_hooks_results_stream_with_no_extensions():
    results = await streamed([Quiet], "subscription { count }")
    assert [(result.data, result.extensions, result.errors) for result in results] == [
        ({"count": n}, {}, None) for n in range(3)
    ]


async def test_an_error_in_a_stream_is_still_masked():
    results = await streamed([Quiet, ErrorPolicy], "subscription { count(failAt: 1) }")
    assert results[0].data == {"count": 0}
    (error,) = results[-1].errors
    assert error.message == "Unexpected error."
    assert error.extensions["code"] == "INTERNAL"

"""The schema extensions' hooks, looked up once per operation instead of once per result.

Strawberry's runner, for every result a subscription streams, walks every extension twice: once
asking each for `get_results` (eight calls of the base's, each answering {}), and once looking up
each one's `on_stream_result`, wrapping the one it finds in a new context manager (a decorator
applied per call). A thousand screens make that walk a thousand times per change (~14% of the
fan-out's profile, bench/fanout.py). Here both lists are made when the operation's runner is:
only the extensions that have the hook are asked, the wrapped hooks are reused, and a result that
no extension watches is yielded without any context manager but a shared null one.

An extension whose stream hook only acts before the result is sent (ErrorPolicy masks its
errors) says so with a plain `before_each_result(result)` method instead of `on_stream_result`,
called here as the result is yielded: no generator and context manager made for it per result,
the last of the per-result walk (~8% of the fan-out's samples).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import StreamResultContextManager, WrappedHook
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.utils.await_maybe import await_maybe

if TYPE_CHECKING:
    from strawberry.types import ExecutionContext, StreamExecutionResult

_NOTHING: contextlib.nullcontext[None] = contextlib.nullcontext()


class Hooks(SchemaExtensionsRunner):
    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        self._results = [each for each in self.extensions if _has(each, "get_results")]
        self._before: list[Any] = [each for each in self.extensions if hasattr(each, "before_each_result")]
        self._streamed = StreamResultContextManager(self.extensions, None).hooks  # type: ignore[arg-type]

    def on_stream_result(self, result: StreamExecutionResult) -> Any:
        for extension in self._before:
            extension.before_each_result(result)
        if not self._streamed:
            return _NOTHING
        return _EachResult(self._streamed, result)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self._results:
            data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data


class _EachResult(StreamResultContextManager):
    """Strawberry's context manager around one streamed result, with hooks already wrapped."""

    def __init__(self, hooks: list[WrappedHook], result: StreamExecutionResult) -> None:
        self.hooks = hooks
        self.result = result


def _has(extension: SchemaExtension, hook: str) -> bool:
    return getattr(type(extension), hook) is not getattr(SchemaExtension, hook)

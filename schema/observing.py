"""GraphQL operations in /metrics: how long each named operation took, by type."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class OperationTimer(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context.context
        metrics = getattr(context, "metrics", None)
        if metrics is None:
            return
        try:
            kind = self.execution_context.operation_type.value
        except RuntimeError:  # it did not parse, or names no operation it holds
            kind = "unknown"
        name = self.execution_context.operation_name or "anonymous"
        metrics.graphql.labels(name, kind).observe(time.perf_counter() - started)

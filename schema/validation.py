"""How an operation is validated: its document once for each text, what it was sent with every time.

graphql-core validates a document by walking it with three dozen rules, which took 1.6 ms for a
kitchen screen's subscription (bench/RESULTS.md, "Issue 16, sixth pass"), and every screen
subscribes with the same text, as every board polls with the same query. So a document that
passed is remembered by its text and the rules it passed, for its schema (KEPT texts a schema,
the least recently used forgotten first; a schema let go takes its texts with it), and the
next operation with that text skips the walk. Only a pass is remembered: a document that
failed is walked again each time, and no request is ever handed another's errors. The rules
are those every document meets: the GraphQL specification's and Strawberry's, our depth and
alias limits, and no NUL in a string it spells out (schema/text.py).

What depends on the operation is checked every time, once its document passed: a NUL in its
variables, a document of several operations that names none, and its cost, which reads the
page sizes in its variables (schema/cost.py).

StaffOnly and SocketSubscriptions (schema/access.py) run before this and may have refused the
operation already; then nothing is validated at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Final
from weakref import WeakKeyDictionary

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.cost import over_budget
from schema.text import nul_in_variables

KEPT: Final = 128  # texts remembered as valid for each schema, as ParserCache keeps 128 parsed ones
Rules = tuple[type[ASTValidationRule], ...]
# By schema, weakly: a schema let go (a test's app) takes what it remembered with it.
_PASSED: WeakKeyDictionary[GraphQLSchema, OrderedDict[tuple[str, Rules], None]] = WeakKeyDictionary()


class Validation(SchemaExtension):
    def __init__(self, *, rules: Rules) -> None:
        self.rules = rules  # made once, with the schema: nothing per operation

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.pre_execution_errors is None and document is not None:  # not refused already
            schema = context.schema._schema
            rules = (*context.validation_rules, *self.rules)
            errors = document_errors(schema, context.query, document, rules)
            if not errors:
                # The name the client sent: Strawberry's `operation_name` falls back to the first.
                asked = context._provided_operation_name
                variables = context.variables or {}
                found = nul_in_variables(variables) or over_budget(schema, document, variables, asked)
                errors = [found] if found else []
            context.pre_execution_errors = errors  # a list, even empty: Strawberry validates no more
        yield


def document_errors(
    schema: GraphQLSchema, text: str | None, document: DocumentNode, rules: Rules
) -> list[GraphQLError]:
    """The document's errors under these rules: none at once for a text that passed them before."""
    passed = _PASSED.get(schema)
    if passed is None:
        passed = _PASSED[schema] = OrderedDict()
    key = (text, rules) if text is not None else None
    if key is not None and key in passed:
        passed.move_to_end(key)
        return []
    errors = validate_document(schema, document, rules)  # Strawberry's: adds its own two rules
    if not errors and key is not None:
        passed[key] = None
        if len(passed) > KEPT:
            passed.popitem(last=False)
    return errors

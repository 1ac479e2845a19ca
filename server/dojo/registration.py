"""Telling Dojo where we are and what we can do: `orderpass dojo register` and `dojo status`.

Capabilities use the names of the API's `CapabilityName` enum with version "1.0.0", as the
API description and its examples do; newer docs also accept `RecordOrderPaymentById` and
`GetOrderBillById` with "v1", but the description we are validated against is the contract.
Dojo routes only what each registration lists, so every PUT sends the full set. The floor's
(ListAreas, SearchTables) are in it only while the venue has a table: registered with none, Dojo
would show Pay at Table an empty floor. Register again after loading the floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.dojo.client import DojoApi
from server.dojo.operations import capabilities


@dataclass(frozen=True, slots=True)
class Registration:
    url: str
    capabilities: frozenset[tuple[str, str]]


async def register(
    dojo: DojoApi, *, public_url: str, username: str, password: str, has_tables: bool
) -> list[dict[str, Any]]:
    return await dojo.register_rest(
        url=public_url.rstrip("/"),
        username=username,
        password=password,
        capabilities=capabilities(has_tables=has_tables),
    )


async def register_ws(dojo: DojoApi, *, has_tables: bool) -> list[dict[str, Any]]:
    """The same capabilities, routed over the socket orderpass dials (`register --ws`)."""
    return await dojo.register_ws(capabilities=capabilities(has_tables=has_tables))


async def registered(dojo: DojoApi) -> list[Registration]:
    """Dojo's registrations: each REST one by its URL, the WebSocket one as `the WebSocket`."""
    answer = await dojo.integrations()
    found = []
    for kind in ("restIntegrations", "wsIntegrations"):
        for integration in answer.get(kind) or []:
            names = frozenset(
                (c.get("name", ""), c.get("version", "")) for c in integration.get("capabilities") or []
            )
            where = str(integration.get("url", "")) if kind == "restIntegrations" else "the WebSocket"
            found.append(Registration(where, names))
    return found


def report(found: list[Registration], *, has_tables: bool) -> list[str]:
    """What Dojo has registered, against what this build would register now."""
    ours = frozenset(capabilities(has_tables=has_tables))
    floor = frozenset(capabilities(has_tables=True)) - frozenset(capabilities(has_tables=False))
    if not found:
        return [
            "Dojo has no integration registered: run `orderpass dojo register --public-url URL` "
            "(REST) or `orderpass dojo register --ws` (the WebSocket orderpass dials)"
        ]
    lines = []
    for registration in found:
        lines.append(f"registered at {registration.url}: {len(registration.capabilities)} capabilities")
        missing, extra = sorted(ours - registration.capabilities), sorted(registration.capabilities - ours)
        lines += [f"  not registered, though implemented: {name} {version}" for name, version in missing]
        lines += [
            f"  registered, though the venue has no table: {name} {version}"
            if (name, version) in floor
            else f"  registered, though not implemented: {name} {version}"
            for name, version in extra
        ]
        if not missing and not extra:
            lines.append("  exactly what this build implements")
    return lines

"""Who did something to an order: Dojo (with its requestor headers), a named staff token, or
the POS itself (an automatic confirmation, say). Every history entry names one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from server.errors import Forbidden
from server.staff.roles import GRANTS, Permission, Role


class ActorKind(StrEnum):
    DOJO = "dojo"
    STAFF = "staff"
    POS = "pos"


# Dojo's requestor headers, in the order the history stores them.
REQUESTOR_HEADERS = ("waiter-id", "dojo-requesting-product", "device-id", "device-type")


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    name: str | None = None
    waiter_id: str | None = None
    requesting_product: str | None = None
    device_id: str | None = None
    device_type: str | None = None
    role: Role | None = None

    @classmethod
    def dojo(cls, headers: Mapping[str, str]) -> Actor:
        waiter, product, device, device_type = (headers.get(name) or None for name in REQUESTOR_HEADERS)
        return cls(ActorKind.DOJO, None, waiter, product, device, device_type)

    @classmethod
    def staff(cls, name: str, role: Role = Role.ADMIN) -> Actor:
        return cls(ActorKind.STAFF, name, role=role)

    @property
    def label(self) -> str:
        return f"{self.kind.value}:{self.name}" if self.name else self.kind.value

    @property
    def is_dojo(self) -> bool:
        return self.kind is ActorKind.DOJO

    def may(self, permission: Permission) -> bool:
        """Staff act within their token's role; Dojo and the POS itself reach only through the
        operations their doors expose. What a screen offers asks this too, so it never offers a
        button the service would refuse."""
        return self.kind is not ActorKind.STAFF or permission in GRANTS[self.role or Role.VIEWER]

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            raise Forbidden(f"a {self.role or 'role-less'} token may not {permission.value}")


POS = Actor(ActorKind.POS)

"""Who may do what, as data: staff roles and the permissions each grants."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Permission(StrEnum):
    READ = "read"
    MOVE = "move"
    CANCEL = "cancel"
    CREATE = "create"
    PAY = "pay"
    PAUSE = "pause"  # stop (and restart) new orders from Dojo's ordering products
    ADMIN = "admin"


class Role(StrEnum):
    ADMIN = "admin"
    KITCHEN = "kitchen"
    VIEWER = "viewer"


GRANTS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    Role.KITCHEN: frozenset({Permission.READ, Permission.MOVE, Permission.CANCEL, Permission.PAUSE}),
    Role.VIEWER: frozenset({Permission.READ}),
}

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from server.actors import ActorKind
from server.broker.memory import MemoryBroker
from server.clock import ManualClock
from server.errors import Conflict, Forbidden, InvalidRequest, NotFound
from server.staff.roles import GRANTS, Permission, Role
from server.staff.tokens import CHANNEL, Tokens, bearer, digest
from server.store import Store


@pytest.fixture
def tokens(store: Store, clock: ManualClock) -> Tokens:
    return Tokens(store=store, clock=clock)


async def test_a_token_authenticates_as_its_named_role(tokens: Tokens):
    token = await tokens.create(name="grill-screen", role=Role.KITCHEN)
    actor = await tokens.authenticate(token)
    assert actor is not None
    assert (actor.kind, actor.name, actor.role) == (ActorKind.STAFF, "grill-screen", Role.KITCHEN)


async def test_only_the_hash_is_stored(tokens: Tokens, store: Store):
    token = await tokens.create(name="office", role=Role.ADMIN)
    async with store.read() as session:
        rows = (await session.execute(text("SELECT * FROM staff_tokens"))).all()
    stored = repr(rows)
    assert "office" in stored
    assert token not in stored
    assert token.removeprefix("opt_") not in stored


@pytest.mark.parametrize("presented", [None, "", "opt_", "opt_guess", "not-even-ours"])
async def test_anything_else_authenticates_as_nobody(tokens: Tokens, presented):
    await tokens.create(name="office", role=Role.ADMIN)
    assert await tokens.authenticate(presented) is None


async def test_a_revoked_token_stops_working_and_its_name_can_be_reused(tokens: Tokens):
    old = await tokens.create(name="pass", role=Role.KITCHEN)
    with pytest.raises(Conflict):
        await tokens.create(name="pass", role=Role.KITCHEN)
    await tokens.revoke("pass")
    assert await tokens.authenticate(old) is None
    new = await tokens.create(name="pass", role=Role.VIEWER)
    assert (await tokens.authenticate(new)) is not None
    listed = [(t.name, t.role, t.revoked_at is not None) for t in await tokens.list()]
    assert listed == [("pass", Role.KITCHEN, True), ("pass", Role.VIEWER, False)]


async def test_revoking_an_unknown_name_and_minting_without_one_are_refused(tokens: Tokens):
    with pytest.raises(NotFound):
        await tokens.revoke("nobody")
    with pytest.raises(InvalidRequest):
        await tokens.create(name="  ", role=Role.ADMIN)


def test_roles_grant_what_the_issue_says():
    assert GRANTS[Role.ADMIN] == set(Permission)
    assert GRANTS[Role.KITCHEN] == {Permission.READ, Permission.MOVE, Permission.CANCEL, Permission.PAUSE}
    assert GRANTS[Role.VIEWER] == {Permission.READ}


async def test_a_staff_actor_acts_within_its_role(tokens: Tokens):
    actor = await tokens.authenticate(await tokens.create(name="wall", role=Role.VIEWER))
    assert actor is not None
    actor.require(Permission.READ)
    with pytest.raises(Forbidden):
        actor.require(Permission.MOVE)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None)],
)
def test_bearer_reads_the_authorization_header(header, token):
    assert bearer(header) == token


async def test_a_token_with_an_expiry_stops_at_it(tokens: Tokens, clock: ManualClock):
    token = await tokens.create(name="temp", role=Role.KITCHEN, expires_at=clock.now() + timedelta(hours=8))
    assert await tokens.authenticate(token) is not None
    clock.advance(timedelta(hours=8))
    assert await tokens.authenticate(token) is None
    (listed,) = await tokens.list()
    assert listed.expires_at == clock.now()
    with pytest.raises(InvalidRequest):
        await tokens.create(name="past", role=Role.VIEWER, expires_at=clock.now())


async def test_holding_names_the_digests_still_good(tokens: Tokens, clock: ManualClock):
    kept = await tokens.create(name="kept", role=Role.VIEWER)
    revoked = await tokens.create(name="revoked", role=Role.VIEWER)
    expiring = await tokens.create(
        name="expiring", role=Role.VIEWER, expires_at=clock.now() + timedelta(seconds=1)
    )
    await tokens.revoke("revoked")
    clock.advance(timedelta(seconds=2))
    everyone = {digest(t) for t in (kept, revoked, expiring)} | {digest("opt_unknown")}
    assert await tokens.holding(everyone) == {digest(kept)}
    assert await tokens.holding(set()) == set()


async def test_a_revocation_is_announced_on_the_broker_without_naming_the_token(
    store: Store, clock: ManualClock
):
    broker = MemoryBroker()
    tokens = Tokens(store=store, clock=clock, broker=broker)
    token = await tokens.create(name="leaked", role=Role.ADMIN)
    async with broker.subscribe(CHANNEL) as notices:
        await tokens.revoke("leaked")
        notice = await anext(notices)
    assert "leaked" not in notice
    assert token not in notice
    assert digest(token) not in notice


async def test_a_very_long_presented_token_is_not_even_hashed(tokens: Tokens):
    assert await tokens.authenticate("opt_" + "a" * 10_000) is None

"""The fake Dojo WebSocket endpoint, driven by a tiny POS written here (a websockets client that
answers every request with a canned result), so that the fake is known to work before orderpass
is tested against it: the handshake, calls matched by id, the contract checks, dropped sockets."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests import asyncapi_contract
from tests.fake_dojo_ws import JSONRPC, REQUESTOR, FakeDojoWs

ORDER = {
    "id": "ord_1",
    "status": "Accepted",
    "details": {"orderType": "Collection", "collection": {"asap": True}},
}
RESULTS = {"GetOrderByIdV1": ORDER, "CreateOrderV1": ORDER, "CancelOrderByIdV1": ORDER}
Reply = dict[str, Any] | str | None  # a frame, raw text, or no answer at all
Answer = Callable[[dict[str, Any]], Awaitable[Reply]]

needs_contract = pytest.mark.skipif(asyncapi_contract.load() is None, reason=asyncapi_contract.MISSING)


async def canned(request: dict[str, Any]) -> Reply:
    """The answer frame Dojo expects, with a canned result: an Order for the order methods, else
    an object carrying the orderId asked for."""
    result = RESULTS.get(request["method"], {}) | {"id": request["params"].get("orderId", "ord_1")}
    return {"jsonrpc": request["jsonrpc"], "id": request["id"], "method": request["method"], "result": result}


def reshaped(change: Callable[[dict[str, Any]], Reply]) -> Answer:
    """The canned answer, changed before it is sent."""

    async def answer(request: dict[str, Any]) -> Reply:
        frame = await canned(request)
        assert isinstance(frame, dict)
        return change(frame)

    return answer


# -- a tiny POS ---------------------------------------------------------------------------------


@dataclass
class TinyPos:
    """Dials the fake, answers every request at once (each in its own task, so a slow answer
    does not hold the others up), and redials as soon as a socket ends."""

    url: str
    headers: dict[str, str]
    answer: Answer = canned
    ping_interval: float | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    asked: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first request
    closes: list[int | None] = field(default_factory=list)  # the close code of each socket that ended

    async def run(self) -> None:
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers=self.headers,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_interval,
                    close_timeout=0.1,
                ) as socket:
                    await self._serve(socket)
            except (ConnectionClosed, OSError):
                pass
            await asyncio.sleep(0.01)

    async def _serve(self, socket: ClientConnection) -> None:
        replies: set[asyncio.Task[None]] = set()
        try:
            async for message in socket:
                reply = asyncio.create_task(self._reply(socket, str(message)))
                replies.add(reply)
                reply.add_done_callback(replies.discard)
        finally:
            self.closes.append(socket.close_code)
            for reply in replies:
                reply.cancel()

    async def _reply(self, socket: ClientConnection, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            request = {"jsonrpc": JSONRPC, "id": "", "method": "", "params": {"unparsable": text}}
        self.requests.append(request)
        self.asked.set()
        frame = await self.answer(request)
        if frame is not None:
            with suppress(ConnectionClosed):  # the fake dropped the socket mid-answer
                await socket.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())


def admitted(fake: FakeDojoWs) -> dict[str, str]:
    return {"Authorization": f"Basic {fake.api_key}", "software-house-id": fake.software_house_id}


@asynccontextmanager
async def tiny_pos(fake: FakeDojoWs, answer: Answer = canned, **options: Any) -> AsyncIterator[TinyPos]:
    pos = TinyPos(fake.url, admitted(fake), answer, **options)
    running = asyncio.create_task(pos.run())
    try:
        yield pos
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


@pytest.fixture
def fake_403() -> Iterator[FakeDojoWs]:
    fake = FakeDojoWs(refusal_status=403)
    fake.start()
    yield fake
    fake.stop()


async def refused(url: str, headers: dict[str, str]) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, additional_headers=headers, open_timeout=5):
            pass
    return refusal.value


# -- the handshake ------------------------------------------------------------------------------


@pytest.mark.parametrize("reseller", [{}, {"reseller-id": "reseller-1"}])
async def test_the_key_as_is_and_a_software_house_id_open_the_socket(fake_dojo_ws, reseller):
    async with connect(fake_dojo_ws.url, additional_headers=admitted(fake_dojo_ws) | reseller):
        assert await fake_dojo_ws.wait_for_connections(1) == 1

    [handshake] = fake_dojo_ws.handshakes
    assert (handshake.path, handshake.status, handshake.refusal) == ("/epos", 101, None)
    assert handshake.headers["software-house-id"] == fake_dojo_ws.software_house_id
    assert handshake.headers.get("reseller-id") == reseller.get("reseller-id")


async def test_the_recorded_handshake_never_holds_the_key(fake_dojo_ws):
    async with connect(fake_dojo_ws.url, additional_headers=admitted(fake_dojo_ws)):
        pass

    [handshake] = fake_dojo_ws.handshakes
    assert handshake.headers["authorization"] == "Basic sk_sandbox_***"
    assert fake_dojo_ws.api_key not in repr(handshake)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (
            {"Authorization": "Basic sk_sandbox_wrong", "software-house-id": "orderpass"},
            "the API key is wrong",
        ),
        ({"software-house-id": "orderpass"}, "no Authorization header"),
        ({"Authorization": "Bearer sk_sandbox_test", "software-house-id": "orderpass"}, "scheme is 'Bearer'"),
        ({"Authorization": "Basic sk_sandbox_test"}, "no software-house-id header"),
    ],
)
async def test_a_handshake_dojo_would_not_take_is_refused_before_the_socket_opens(
    fake_dojo_ws, headers, reason
):
    refusal = await refused(fake_dojo_ws.url, headers)

    assert refusal.response.status_code == 401
    [handshake] = fake_dojo_ws.handshakes
    assert handshake.status == 401
    assert reason in (handshake.refusal or "")
    assert fake_dojo_ws.connections == 0


async def test_a_base64_encoded_key_is_refused_with_a_reason_that_says_so(fake_dojo_ws):
    encoded = base64.b64encode(f"{fake_dojo_ws.api_key}:".encode()).decode()
    headers = {"Authorization": f"Basic {encoded}", "software-house-id": "orderpass"}

    refusal = await refused(fake_dojo_ws.url, headers)

    assert "base64" in refusal.response.body.decode()
    assert fake_dojo_ws.api_key not in refusal.response.body.decode()


async def test_the_refusal_status_is_the_fakes_to_choose(fake_403):
    refusal = await refused(fake_403.url, {"Authorization": "Basic sk_prod_nope", "software-house-id": "x"})

    assert refusal.response.status_code == 403


async def test_refusing_every_handshake_turns_away_even_the_right_key_until_accepted_again(fake_dojo_ws):
    fake_dojo_ws.refuse_handshakes(503)
    refusal = await refused(fake_dojo_ws.url, admitted(fake_dojo_ws))
    fake_dojo_ws.accept_handshakes()
    async with connect(fake_dojo_ws.url, additional_headers=admitted(fake_dojo_ws)):
        pass

    assert refusal.response.status_code == 503
    assert [h.status for h in fake_dojo_ws.handshakes] == [503, 101]


async def test_only_the_epos_path_has_a_socket(fake_dojo_ws):
    refusal = await refused(fake_dojo_ws.url.replace("/epos", "/tables"), admitted(fake_dojo_ws))

    assert refusal.response.status_code == 404


# -- calls --------------------------------------------------------------------------------------


async def test_a_call_sends_a_json_rpc_request_and_returns_the_answer_with_its_id(fake_dojo_ws):
    async with tiny_pos(fake_dojo_ws) as pos:
        answer = await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_7"}, id="get-7")

    assert pos.requests == [
        {
            "jsonrpc": "2.0",
            "id": "get-7",
            "method": "GetOrderByIdV1",
            "params": {"orderId": "ord_7", "headers": REQUESTOR},
        }
    ]
    assert answer == {
        "jsonrpc": "2.0",
        "id": "get-7",
        "method": "GetOrderByIdV1",
        "result": ORDER | {"id": "ord_7"},
    }


async def test_params_with_their_own_headers_keep_them(fake_dojo_ws):
    headers = {
        "waiterId": "w1",
        "dojoRequestingProduct": "PayAtTable",
        "deviceId": "d1",
        "deviceType": "CardMachine",
    }
    async with tiny_pos(fake_dojo_ws) as pos:
        await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_1", "headers": headers})

    assert pos.requests[0]["params"]["headers"] == headers


async def test_calls_answered_out_of_order_are_matched_by_id(fake_dojo_ws):
    async def slow_first(request: dict[str, Any]) -> Reply:
        await asyncio.sleep(0.15 * (2 - int(request["params"]["orderId"])))
        return await canned(request)

    async with tiny_pos(fake_dojo_ws, slow_first):
        exchanges = await fake_dojo_ws.calls_in_flight(
            [("GetOrderByIdV1", {"orderId": str(n)}) for n in range(3)]
        )

    assert [e.request["params"]["orderId"] for e in exchanges] == ["2", "1", "0"]
    assert all(e.response["id"] == e.request["id"] for e in exchanges)
    assert all(e.response["result"]["id"] == e.request["params"]["orderId"] for e in exchanges)


async def test_calls_are_all_sent_before_any_answer_is_awaited(fake_dojo_ws):
    asked: list[str] = []
    everyone_asked = asyncio.Event()

    async def answer_once_all_have_asked(request: dict[str, Any]) -> Reply:
        asked.append(request["id"])
        if len(asked) == 5:
            everyone_asked.set()
        await asyncio.wait_for(everyone_asked.wait(), 5)
        return await canned(request)

    async with tiny_pos(fake_dojo_ws, answer_once_all_have_asked):
        exchanges = await fake_dojo_ws.calls_in_flight([("GetOrderByIdV1", {"orderId": "ord_1"})] * 5)

    assert sorted(e.response["id"] for e in exchanges) == sorted(asked)


async def test_a_call_waits_for_the_pos_to_dial_in(fake_dojo_ws):
    call = asyncio.create_task(fake_dojo_ws.call("CancelOrderByIdV1", {"orderId": "ord_1"}))
    await asyncio.sleep(0.1)
    async with tiny_pos(fake_dojo_ws):
        answer = await call

    assert answer["result"]["id"] == "ord_1"


async def test_a_call_nobody_answers_times_out_naming_its_id(fake_dojo_ws):
    async def silence(request: dict[str, Any]) -> Reply:
        return None

    async with tiny_pos(fake_dojo_ws, silence):
        with pytest.raises(TimeoutError, match="unanswered-1"):
            await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_1"}, id="unanswered-1", timeout=0.2)


async def test_two_calls_in_flight_cannot_share_an_id(fake_dojo_ws):
    async def silence(request: dict[str, Any]) -> Reply:
        return None

    async with tiny_pos(fake_dojo_ws, silence) as pos:
        first = asyncio.create_task(
            fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "a"}, id="same", timeout=2)
        )
        await pos.asked.wait()
        with pytest.raises(ValueError, match="unique"):
            await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "b"}, id="same")
        first.cancel()


async def test_send_raw_sends_the_text_as_is_and_what_comes_back_is_received(fake_dojo_ws):
    async def parse_error(request: dict[str, Any]) -> Reply:
        error = {"errorType": "InvalidRequest", "debugMessage": "not JSON"}
        return {"jsonrpc": JSONRPC, "id": "", "method": "", "error": error}

    async with tiny_pos(fake_dojo_ws, parse_error) as pos:
        await fake_dojo_ws.send_raw("{not json")
        [frame] = await fake_dojo_ws.wait_for_received(1)

    assert pos.requests[0]["params"] == {"unparsable": "{not json"}
    assert frame.json()["error"]["errorType"] == "InvalidRequest"


# -- the contract -------------------------------------------------------------------------------


def without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda frame: {k: v for k, v in frame.items() if k != key}


@needs_contract
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (without("method"), "'method' is a required property"),
        (without("jsonrpc"), "'jsonrpc' is a required property"),
        (without("result"), "'result' is a required property"),
        (
            lambda f: f | {"result": {"id": "ord_1", "status": "Accepted"}},
            "result: 'details' is a required property",
        ),
        (lambda f: f | {"result": ORDER | {"status": "Created"}}, "'Created' is not one of"),
        (
            lambda f: f | {"method": "CancelOrderByIdV1"},
            "method is 'CancelOrderByIdV1', the request's was 'GetOrderByIdV1'",
        ),
        (lambda f: f | {"jsonrpc": "1.0"}, "jsonrpc is '1.0', the request's was '2.0'"),
        (lambda f: f | {"error": {"errorType": "NotFound"}}, "both result and error"),
        (lambda f: without("result")(f) | {"error": {"errorType": "Missing"}}, "'Missing' is not one of"),
        (
            lambda f: without("result")(f) | {"error": {"debugMessage": "?"}},
            "'errorType' is a required property",
        ),
    ],
)
async def test_an_answer_that_breaks_dojos_contract_fails_the_call_and_is_kept(
    fake_dojo_ws, change, complaint
):
    async with tiny_pos(fake_dojo_ws, reshaped(change)):
        with pytest.raises(AssertionError, match="breaks Dojo's contract") as broken:
            await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_1"}, id="get-1")

    assert complaint in str(broken.value)
    violations = fake_dojo_ws.take_violations()
    assert any(v.startswith("GetOrderByIdV1 get-1: ") and complaint in v for v in violations), violations


@needs_contract
@pytest.mark.parametrize(
    "error",
    [
        {"errorType": "NotFound"},
        {"errorType": "Conflict", "debugMessage": "locked", "traceId": "00-abc-01"},
    ],
)
async def test_an_error_answer_with_an_eposerror_meets_the_contract(fake_dojo_ws, error):
    async with tiny_pos(fake_dojo_ws, reshaped(lambda f: without("result")(f) | {"error": error})):
        answer = await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_1"})

    assert answer["error"] == error


@needs_contract
@pytest.mark.parametrize(
    ("method", "good", "bad"),
    [
        ("ExtendOrderLockV1", {}, []),
        ("HandleEventV1", {}, "ok"),
        ("ListAreasV1", [{"id": "a1", "name": "Terrace"}], {}),
        ("SearchOrdersV1", {"data": [ORDER]}, {"orders": [ORDER]}),
    ],
)
async def test_each_method_is_held_to_its_own_result_schema(fake_dojo_ws, method, good, bad):
    async with tiny_pos(fake_dojo_ws, reshaped(lambda f: f | {"result": bad})):
        with pytest.raises(AssertionError, match="result"):
            await fake_dojo_ws.call(method, {"orderId": "ord_1"})
    fake_dojo_ws.take_violations()

    async with tiny_pos(fake_dojo_ws, reshaped(lambda f: f | {"result": good})):
        answer = await fake_dojo_ws.call(method, {"orderId": "ord_1"})

    assert answer["result"] == good


@needs_contract
async def test_a_second_answer_to_one_id_is_kept_as_a_violation(fake_dojo_ws):
    async def again(request: dict[str, Any]) -> Reply:
        return await canned(request | {"id": "once"})  # the raw frame too is answered as `once`

    async with tiny_pos(fake_dojo_ws, again):
        await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_1"}, id="once")
        await fake_dojo_ws.send_raw("not json")
        await fake_dojo_ws.wait_for_received(2)

    assert fake_dojo_ws.take_violations() == ["an answer to 'once': a second answer to the same id"]


@needs_contract
@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("not json", "an answer to None: not a JSON object"),
        ('{"jsonrpc": "2.0", "id": null, "method": "x", "result": {}}', "id: None is not of type 'string'"),
    ],
)
async def test_frames_that_answer_no_call_are_still_checked(fake_dojo_ws, text, complaint):
    async def say(request: dict[str, Any]) -> Reply:
        return str(text)

    async with tiny_pos(fake_dojo_ws, say):
        await fake_dojo_ws.send_raw("anything")
        await fake_dojo_ws.wait_for_received(1)

    violations = fake_dojo_ws.take_violations()
    assert any(complaint in v for v in violations), violations


# -- sockets that end ---------------------------------------------------------------------------


async def test_drop_ends_the_socket_without_a_close_frame_and_the_pos_is_back_within_a_second(fake_dojo_ws):
    async with tiny_pos(fake_dojo_ws) as pos:
        await fake_dojo_ws.wait_for_connections(1)
        await fake_dojo_ws.drop()
        assert fake_dojo_ws.open_connections == 0
        await fake_dojo_ws.wait_for_connections(2, timeout=1.0)
        answer = await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_2"})

    assert pos.closes[0] == 1006  # no close frame: the connection was lost
    assert answer["result"]["id"] == "ord_2"


async def test_hang_up_sends_a_close_frame_with_its_code_and_reason(fake_dojo_ws):
    async with tiny_pos(fake_dojo_ws) as pos:
        await fake_dojo_ws.wait_for_connections(1)
        await fake_dojo_ws.hang_up(1012, "service restart")
        await fake_dojo_ws.wait_for_connections(2, timeout=1.0)

    assert pos.closes[0] == 1012


async def test_a_call_in_flight_fails_when_its_socket_drops(fake_dojo_ws):
    async def never(request: dict[str, Any]) -> Reply:
        await asyncio.sleep(10)
        return None

    async with tiny_pos(fake_dojo_ws, never) as pos:
        call = asyncio.create_task(fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_1"}, id="lost"))
        await pos.asked.wait()
        await fake_dojo_ws.drop()
        with pytest.raises(ConnectionError, match="lost"):
            await call


async def test_playing_dead_leaves_pings_unanswered_until_the_pos_gives_up_and_redials(fake_dojo_ws):
    async with tiny_pos(fake_dojo_ws, ping_interval=0.1) as pos:
        await fake_dojo_ws.wait_for_connections(1)
        await fake_dojo_ws.play_dead()
        assert fake_dojo_ws.open_connections == 0
        await fake_dojo_ws.wait_for_connections(2, timeout=1.0)
        answer = await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_3"})

    assert pos.closes[0] == 1006  # the POS gave up on its own: no close frame came from the fake
    assert answer["result"]["id"] == "ord_3"


async def test_connections_counts_every_socket_and_open_connections_those_being_served(fake_dojo_ws):
    async with tiny_pos(fake_dojo_ws), tiny_pos(fake_dojo_ws):
        await fake_dojo_ws.wait_for_connections(2)
        assert fake_dojo_ws.open_connections == 2

    assert fake_dojo_ws.connections == 2

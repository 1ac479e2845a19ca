"""Calls from the POS to Dojo's own API (version 2026-02-27): payment intents, POS events and
the registration of our REST integration.

`DojoApi` is the interface the app depends on; `DojoClient` is its HTTP implementation. Foreign
failures are mapped here, once: connection errors, timeouts, 5xx and 429 are retried with
exponential backoff and end in `DojoUnavailable`; any other 4xx is `DojoRefused`, except the
404 that means "no such payment intent". Every id that goes into a path goes through
`paths.resource`, which refuses one Dojo could not have issued before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Protocol, Self

import httpx

from server.clock import as_utc
from server.dojo.paths import resource
from server.errors import OrderpassError, Unavailable

log = logging.getLogger("orderpass.dojo.client")

DOJO_API_VERSION: Final = "2026-02-27"
MAX_RETRY_AFTER: Final = 10.0  # seconds; a longer wait is better left to the caller's own retry


class DojoUnavailable(Unavailable):
    """Dojo could not be reached, or kept failing, for every attempt."""


class DojoRefused(OrderpassError):
    """Dojo answered a 4xx that retrying will not change (bad key, bad body, unknown resource)."""

    code = "DOJO_REFUSED"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    """The few fields of Dojo's `PaymentIntent` the POS uses; everything else is ignored."""

    id: str
    status: str
    amount_value: int
    amount_currency: str | None
    tips_value: int = 0
    external_order_id: str | None = None  # our order id, as Dojo's orderDetails.externalId
    dojo_order_id: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> PaymentIntent:
        amount = _object(body.get("amount"))
        order = _object(body.get("orderDetails"))
        return cls(
            id=_text(body.get("id")) or "",
            status=_text(body.get("status")) or "",
            amount_value=_whole(amount.get("value")),
            amount_currency=_text(amount.get("currencyCode")),
            tips_value=_whole(_object(body.get("tipsAmount")).get("value")),
            external_order_id=_text(order.get("externalId")),
            dojo_order_id=_text(order.get("id")),
            created_at=_moment(body.get("createdAt")),
        )


class DojoApi(Protocol):
    async def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None: ...

    async def order_updated(self, order_id: str) -> None: ...

    async def register_rest(
        self, *, url: str, username: str, password: str, capabilities: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]: ...

    async def register_ws(self, *, capabilities: Sequence[tuple[str, str]]) -> list[dict[str, Any]]: ...

    async def integrations(self) -> dict[str, Any]: ...


class DojoClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        software_house_id: str | None,
        reseller_id: str | None = None,
        version: str = DOJO_API_VERSION,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Basic {api_key}", "version": version, "Accept": "application/json"}
        if software_house_id:
            headers["software-house-id"] = software_house_id
        if reseller_id:
            headers["reseller-id"] = reseller_id
        self._attempts = max(1, retries)  # attempts in all: retries=3 is one try and two more
        self._backoff = backoff
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        # Without returnCanceled Dojo answers 404 for a Canceled intent, which we must see.
        path = resource("payment-intents", payment_intent_id)
        response = await self._call("GET", path, params={"returnCanceled": "true"})
        if response.status_code == 404:
            return None
        return PaymentIntent.from_json(_json_object(_checked(response)))

    async def order_updated(self, order_id: str) -> None:
        # Dojo re-fetches the order on this event, so a duplicate from a retry does no harm.
        body = {"eventType": "OrderUpdated", "event": {"orderId": order_id}}
        _checked(await self._call("POST", "/epos/events", body=body))

    async def register_rest(
        self, *, url: str, username: str, password: str, capabilities: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        # Dojo routes only what each PUT lists, so callers must send the full set every time.
        body = {
            "url": url,
            "auth": {"authType": "basic", "basic": {"username": username, "password": password}},
            "capabilities": [{"name": name, "version": version} for name, version in capabilities],
        }
        answer = _json(_checked(await self._call("PUT", "/epos/integrations/rest", body=body)))
        if not isinstance(answer, list):
            raise DojoUnavailable("Dojo answered the REST registration with something other than a list")
        return [item for item in answer if isinstance(item, dict)]

    async def register_ws(self, *, capabilities: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """The WebSocket integration: no URL and no credentials, the socket we dial is the route."""
        body = {"capabilities": [{"name": name, "version": version} for name, version in capabilities]}
        answer = _json(_checked(await self._call("PUT", "/epos/integrations/ws", body=body)))
        if not isinstance(answer, list):
            raise DojoUnavailable("Dojo answered the WebSocket registration with something other than a list")
        return [item for item in answer if isinstance(item, dict)]

    async def integrations(self) -> dict[str, Any]:
        return _json_object(_checked(await self._call("GET", "/epos/integrations")))

    async def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> httpx.Response:
        """The first answer that retrying cannot improve; DojoUnavailable once attempts run out."""
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._send(method, path, params=params, body=body)
            if isinstance(outcome, httpx.Response):
                return outcome
            if attempt >= self._attempts:
                message = f"Dojo {method} {path} failed {attempt} times, last with {outcome.reason}"
                raise DojoUnavailable(message) from outcome.cause
            delay = self._delay(attempt) if outcome.retry_after is None else outcome.retry_after
            log.warning(
                "Dojo %s %s failed with %s (attempt %d of %d); retrying in %.2fs",
                *(method, path, outcome.reason, attempt, self._attempts, delay),
            )
            await asyncio.sleep(delay)

    async def _send(
        self, method: str, path: str, *, params: dict[str, str] | None, body: Any
    ) -> httpx.Response | _Failure:
        try:
            response = await self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as exc:  # refused, reset, timed out: Dojo may be back soon
            return _Failure(type(exc).__name__, cause=exc)
        if response.status_code == 429 or response.status_code >= 500:
            return _Failure(f"HTTP {response.status_code}", retry_after=_retry_after(response))
        return response

    def _delay(self, attempt: int) -> float:
        # Jitter keeps many POS processes that failed together from retrying in lockstep.
        return self._backoff * 2.0 ** (attempt - 1) * random.uniform(1.0, 1.2)


@dataclass(frozen=True, slots=True)
class _Failure:
    """An attempt worth repeating: what went wrong, and how long Dojo asked us to wait."""

    reason: str
    retry_after: float | None = None
    cause: httpx.TransportError | None = None


def _retry_after(response: httpx.Response) -> float | None:
    """A numeric Retry-After, capped; an HTTP-date or garbage falls back to our own backoff."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise DojoRefused(
        response.status_code,
        f"Dojo refused {response.request.method} "
        f"{response.request.url.path} with {response.status_code}: {_problem(response)}",
    )


def _problem(response: httpx.Response) -> str:
    """Dojo's errors are RFC 7807 ProblemDetails; fall back to the raw text when they are not."""
    try:
        body = _object(response.json())
    except ValueError:
        return response.text[:200]
    parts = [_text(body.get("title")), _text(body.get("detail")), _text(body.get("traceId"))]
    return "; ".join(part for part in parts if part) or response.text[:200]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        # Usually a proxy's HTML error page: Dojo itself is not answering.
        raise DojoUnavailable(
            f"Dojo answered {response.request.url.path} with a body that is not JSON"
        ) from None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    body = _json(response)
    if not isinstance(body, dict):
        raise DojoUnavailable(f"Dojo answered {response.request.url.path} with a non-object body")
    return body


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None

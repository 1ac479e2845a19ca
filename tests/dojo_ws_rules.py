"""Dojo's rules for its EPOS WebSocket beyond the AsyncAPI schemas, as the fake
(tests/fake_dojo_ws.py) enforces them: who is let in at the handshake, what a request frame looks
like, and what an answer must carry over from the request it answers. Pure functions; the fake
owns the sockets.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

PATH = "/epos"
JSONRPC = "2.0"  # the document only says "a string"; JSON-RPC 2.0 and Dojo's own SDK say "2.0"
REQUESTOR = {"dojoRequestingProduct": "Order&Pay"}  # a params.headers Dojo could send
_ENVIRONMENTS = ("sk_sandbox_", "sk_prod_")


def request_frame(method: str, params: Mapping[str, Any], *, id: str) -> dict[str, Any]:
    """A JSON-RPC request as Dojo sends it: `params` is the REST body plus path values, and
    always a `headers` object (the REQUESTOR's, unless `params` brings its own)."""
    return {"jsonrpc": JSONRPC, "id": id, "method": method, "params": {"headers": dict(REQUESTOR), **params}}


def refusal(headers: Mapping[str, str], api_key: str) -> str | None:
    """Why Dojo would refuse this handshake (header names in lower case), in words that never
    hold the key; None when it would let the POS in."""
    problem = _key_problem(headers.get("authorization"), api_key)
    if problem is None and not headers.get("software-house-id"):
        return "no software-house-id header"  # reseller-id is optional, so never a reason
    return problem


def masked(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with the key in Authorization masked: its scheme and the key's environment
    prefix, which are not secret, are kept."""
    if "authorization" not in headers:
        return dict(headers)
    scheme, _, token = headers["authorization"].partition(" ")
    prefix = next((p for p in _ENVIRONMENTS if token.startswith(p)), "")
    return {**headers, "authorization": f"{scheme} {prefix}***"}


def answer_problems(frame: Any, request: Mapping[str, Any] | None) -> list[str]:
    """What JSON-RPC, rather than Dojo's schemas, requires of an answer: a JSON object, with
    `result` or `error` but not both, echoing its request's `jsonrpc` and `method` (the schema
    requires `method` in an answer but says nothing of its value)."""
    if not isinstance(frame, Mapping):
        return ["not a JSON object"]
    problems = [
        f"{key} is {frame[key]!r}, the request's was {request[key]!r}"
        for key in ("jsonrpc", "method")
        if request is not None and key in frame and frame[key] != request[key]
    ]
    if "result" in frame and "error" in frame:
        problems.append("both result and error; JSON-RPC answers with exactly one")
    return problems


def _key_problem(authorization: str | None, key: str) -> str | None:
    if authorization is None:
        return "no Authorization header"
    scheme, _, token = authorization.partition(" ")
    if scheme != "Basic":
        return f"the Authorization scheme is {scheme!r}; Dojo's is 'Basic <api key>'"
    if token == key:
        return None
    if key in _unbase64(token):
        return "the key is base64-encoded; Dojo wants 'Basic <api key>' with the key as-is"
    return "the API key is wrong"


def _unbase64(token: str) -> str:
    try:
        return base64.b64decode(token, validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        return ""

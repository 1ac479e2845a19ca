"""The raw-stack ceiling for CreateOrder: a bare Starlette endpoint that parses the same Dojo body
and inserts the order and its items with the stdlib sqlite3 driver, and nothing else. No
validation, no idempotency, no history, no change log, no response body worth the name: what
"writing it ourselves" costs at the least, on the same SQLite settings (WAL, synchronous=FULL).

    uvicorn --factory bench.ceiling:app --port 8100     (with CEILING_DB=/tmp/ceiling.db)
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, dojo_order_id TEXT, total INTEGER, currency TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS items (order_id TEXT, line INTEGER, name TEXT, plu TEXT, quantity INTEGER, price INTEGER);
"""


def app() -> Starlette:
    db = sqlite3.connect(
        os.environ.get("CEILING_DB", "/tmp/ceiling.db"), check_same_thread=False, isolation_level=None
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={os.environ.get('CEILING_SYNCHRONOUS', 'FULL')}")  # or NORMAL: no fsync
    db.executescript(SCHEMA)

    async def create(request: Request) -> Response:
        body = json.loads(await request.body())
        order_id = uuid.uuid4().hex
        items = [
            (order_id, n, i["name"], i["plu"], i["quantity"], i["amountPerItem"]["value"])
            for n, i in enumerate(body["items"])
        ]
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            (
                order_id,
                body["dojoOrderId"],
                body["totalAmount"]["value"],
                body["totalAmount"]["currencyCode"],
                None,
            ),
        )
        db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", items)
        db.execute("COMMIT")
        return Response(json.dumps({"id": order_id, "status": "New"}), media_type="application/json")

    return Starlette(routes=[Route("/v1/orders", create, methods=["POST"])])

"""The bare-endpoint ceiling for reads (bench/reads.py): bare Starlette and the stdlib sqlite3
driver on the database file orderpass wrote, reading the rows GetOrderById and the KDS ticket
fragment read for one order (its head row and its items) and answering Dojo-like JSON, or a
small HTML ticket rendered with Jinja2. No auth, no validation, no middleware, no domain model:
what "writing it ourselves" costs at the least, on the same rows.

    uvicorn --factory bench.bare_reads:app --port 8101     (with BARE_DB=/path/to/orderpass.db)
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any, Final

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

HEAD: Final = "SELECT * FROM orders WHERE id = ?"
ITEMS: Final = "SELECT * FROM order_items WHERE order_id = ? ORDER BY line"
TICKET: Final = """<article class="ticket" data-order-id="{{ o.id }}" data-status="{{ o.status }}"
         data-created-at="{{ o.created_at }}" data-title="{{ o.display_name or o.reference }}">
  <header><h2>{{ o.display_name or o.reference }}</h2><span class="table">{{ o.table_id or "" }}</span></header>
  <ul class="lines">
  {% for item in items %}
    <li class="line"><span class="qty">{{ item.quantity }}</span> {{ item.name }}
      {% if item.modifiers %}<ul class="modifiers">{% for m in item.modifiers %}<li>{{ m[2] }} {{ m[0] }}</li>{% endfor %}</ul>{% endif %}
      {% if item.note %}<p class="note">{{ item.note }}</p>{% endif %}
    </li>
  {% endfor %}
  </ul>
  {% if o.note %}<p class="order-note note">{{ o.note }}</p>{% endif %}
  <footer class="ticket-foot"><button type="button" class="bump" data-action="bump">Start</button></footer>
</article>"""


def app() -> Starlette:
    db = sqlite3.connect(os.environ.get("BARE_DB", "/tmp/orderpass.db"), check_same_thread=False)
    db.row_factory = sqlite3.Row
    ticket = Environment(autoescape=True).from_string(TICKET)

    def read(order_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        head = db.execute(HEAD, (order_id,)).fetchone()
        if head is None:
            return None
        items = [dict(row) for row in db.execute(ITEMS, (order_id,))]
        for item in items:
            item["modifiers"] = json.loads(item["modifiers"]) if item["modifiers"] else []
        return dict(head), items

    async def order(request: Request) -> Response:
        found = read(request.path_params["order_id"])
        if found is None:
            return Response(status_code=404)
        head, items = found
        currency = head["currency"]
        body = {
            "id": head["id"],
            "status": head["status"],
            "dojoOrderId": head["dojo_order_id"],
            "reference": head["reference"],
            "displayName": head["display_name"],
            "note": head["note"],
            "details": {"orderType": head["order_type"], "dineIn": {"tableId": head["table_id"], "waiterId": head["waiter_id"]}},
            "items": [
                {
                    "name": i["name"],
                    "plu": i["plu"],
                    "quantity": i["quantity"],
                    "amountPerItem": {"value": i["amount_per_item"], "currencyCode": currency},
                    "modifiers": [
                        {"name": n, "plu": p, "quantity": q, "amountPerModifier": {"value": v, "currencyCode": currency}}
                        for n, p, q, v in i["modifiers"]
                    ],
                }
                for i in items
            ],
            "totalAmount": {"value": head["total_amount"], "currencyCode": currency},
            "paidAmount": {"value": head["paid_amount"], "currencyCode": currency},
            "createdAt": head["created_at"],
            "updatedAt": head["updated_at"],
        }  # fmt: skip
        return Response(json.dumps(body), media_type="application/json")

    async def fragment(request: Request) -> Response:
        found = read(request.path_params["order_id"])
        if found is None:
            return Response(status_code=204)
        head, items = found
        return HTMLResponse(ticket.render(o=head, items=items))

    async def healthz(request: Request) -> Response:
        return Response("ok")

    routes = [
        Route("/v1/orders/{order_id}", order),
        Route("/kds/tickets/{order_id}", fragment),
        Route("/healthz", healthz),
    ]
    return Starlette(routes=routes)

"""The demo of work items (codeunit 50150, `jobs.d/order-import.yaml`): an integration
import as the job queue practitioners advise it. It stages the orders it fetched, one
item per external order id (staging twice adds nothing), then processes a chunk of
pending items; the bad order fails alone while the others go through, and a later run
skips what was done and tries the bad one again until its queue's max_attempts.
"""

from __future__ import annotations

from typing import Any

ORDERS: tuple[dict[str, Any], ...] = (
    {"id": "SO-1001", "customer": "10000", "lines": [{"item": "1896-S", "quantity": 4}]},
    {"id": "SO-1002", "customer": "20000", "lines": [{"item": "1900-S", "quantity": 1}]},
    {"id": "SO-1003", "customer": "30000", "lines": [{"item": "1906-S", "quantity": -2}]},
    {"id": "SO-1004", "customer": "10000", "lines": [{"item": "1908-S", "quantity": 10}]},
    {"id": "SO-1005", "customer": "40000", "lines": [{"item": "1920-S", "quantity": 3}]},
)
"""What the other system has (the third order is bad: a negative quantity)."""


def _say(ctx: Any, event: str, **fields: Any) -> None:
    log = getattr(ctx, "log", None)
    if log is not None:
        log.info(event, **fields)
    else:
        print(event, fields)


def fetch_new_orders() -> list[dict[str, Any]]:
    """The orders the other system offers (the same ones on every call, as an API that
    returns everything since a date would)."""
    return [dict(o) for o in ORDERS]


def create_sales_order(order: dict[str, Any]) -> str:
    """The sales order for `order`, or ValueError for a line that cannot be posted."""
    for line in order["lines"]:
        if line["quantity"] <= 0:
            raise ValueError(f"order {order['id']}: quantity {line['quantity']} is not positive")
    return "S-ORD" + str(order["id"]).removeprefix("SO-")


def import_orders(ctx: Any) -> None:
    """Stage the fetched orders, then process up to 100 pending ones."""
    orders = ctx.items("orders")
    for order in fetch_new_orders():
        orders.add(order["id"], payload=order)
    done = failed = 0
    for item in orders.claim(limit=100):
        with item:
            item.note(sales_order=create_sales_order(item.payload))
        if item.status.value == "done":
            done += 1
        else:
            failed += 1
    _say(ctx, "orders_imported", done=done, failed=failed)

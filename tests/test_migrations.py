"""The migrations: they build exactly the models' schema, and upgrade a populated database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import server.models  # noqa: F401
from server import revisions


def test_the_migrations_build_exactly_the_models(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_upgrading_keeps_the_orders_and_changes_already_there(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url, "0001")
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute(
            "INSERT INTO orders (id, status, version, order_type, currency, total_amount, paid_amount, created_at,"
            " updated_at) VALUES ('ord_old', 'Ready', 1, 'DineIn', 'GBP', 100, 0, '2026-01-01 00:00:00.000000',"
            " '2026-01-01 00:00:00.000000')"
        )
        db.execute(
            "INSERT INTO order_changes (order_id, kind, at) VALUES ('ord_old', 'CREATED', '2026-01-01')"
        )
    revisions.upgrade(url)
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("SELECT sequence, to_status FROM order_changes").fetchall() == [(1, "Ready")]
        table = db.execute("SELECT sql FROM sqlite_master WHERE name = 'order_changes'").fetchone()[0]
    assert "AUTOINCREMENT" in table  # a sequence number is never reused
    assert revisions.revision(url).behind is False


def test_a_fresh_database_is_behind_until_upgraded(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/new.db"
    assert revisions.revision(url).behind
    revisions.upgrade(url)
    assert not revisions.revision(url).behind


def test_modifiers_move_onto_their_items_and_back(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url, "0003")
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute(
            "INSERT INTO orders (id, status, version, order_type, currency, total_amount, paid_amount, created_at,"
            " updated_at) VALUES ('ord_old', 'New', 1, 'DineIn', 'GBP', 100, 0, '2026-01-01 00:00:00.000000',"
            " '2026-01-01 00:00:00.000000')"
        )
        db.execute("INSERT INTO order_items VALUES ('ord_old', 1, NULL, 'Burger', 'B', 1, 1000, NULL)")
        db.executemany(
            "INSERT INTO item_modifiers VALUES ('ord_old', 1, ?, ?, ?, 1, ?)",
            [(0, "Cheese", "C", 100), (1, "Bacon", "BA", 150)],
        )
    revisions.upgrade(url)
    with sqlite3.connect(tmp_path / "m.db") as db:
        (modifiers,) = db.execute("SELECT modifiers FROM order_items").fetchone()
    assert orjson.loads(modifiers) == [["Cheese", "C", 1, 100], ["Bacon", "BA", 1, 150]]
    command.downgrade(revisions.alembic_config(url), "0003")
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute(
            "SELECT name, amount_per_modifier FROM item_modifiers ORDER BY position"
        ).fetchall() == [
            ("Cheese", 100),
            ("Bacon", 150),
        ]


def test_the_requesting_product_and_addition_keys_come_over_from_history(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url, "0006")
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute(
            "INSERT INTO orders (id, status, version, order_type, currency, total_amount, paid_amount, created_at,"
            " updated_at) VALUES ('ord_old', 'New', 1, 'DineIn', 'GBP', 100, 0, '2026-01-01 00:00:00.000000',"
            " '2026-01-01 00:00:00.000000')"
        )
        history = (
            "INSERT INTO order_history (order_id, at, kind, actor, requesting_product, detail)"
            " VALUES ('ord_old', '2026-01-01 00:00:00.000000', ?, ?, ?, ?)"
        )
        db.execute(history, ("CREATED", "dojo", "Order&Pay", None))
        db.execute(history, ("ITEMS_CHANGED", "staff:bar", None, '{"key": "round-2", "added": []}'))
        db.execute(history, ("ITEMS_CHANGED", "staff:bar", None, '{"added": []}'))
    revisions.upgrade(url)
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("SELECT requesting_product FROM orders").fetchall() == [("Order&Pay",)]
        assert db.execute("SELECT order_id, client_key FROM item_additions").fetchall() == [
            ("ord_old", "round-2")
        ]
    command.downgrade(revisions.alembic_config(url), "0006")


def test_the_floor_arrives_empty_keeps_names_unique_per_area_and_leaves_on_downgrade(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url)
    now = "2026-01-01 00:00:00.000000"
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("SELECT count(*) FROM floor_tables").fetchone() == (0,)
        db.execute("INSERT INTO areas VALUES ('up', 'Upstairs', 0, ?)", (now,))
        db.execute("INSERT INTO floor_tables VALUES ('t1', 'Table 1', 'up', 4, 0, ?)", (now,))
        db.execute("INSERT INTO table_waiters VALUES ('t1', 'becky', 0)")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO floor_tables VALUES ('t2', 'Table 1', 'up', NULL, 1, ?)", (now,))
    command.downgrade(revisions.alembic_config(url), "0008")
    with sqlite3.connect(tmp_path / "m.db") as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not names & {"areas", "floor_tables", "area_waiters", "table_waiters"}


def test_the_ordering_pauses_arrive_empty_keep_one_pause_per_product_and_leave_on_downgrade(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url)
    now = "2026-01-01 00:00:00.000000"
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("SELECT count(*) FROM ordering_pauses").fetchone() == (0,)
        db.execute("INSERT INTO ordering_pauses VALUES ('QR', NULL, ?, 'staff:lead')", (now,))
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO ordering_pauses VALUES ('QR', ?, ?, 'staff:other')", (now, now))
        db.execute(
            "INSERT INTO ordering_changes (at, kind, actor, products) VALUES (?, 'PAUSED', 'staff:lead', '[\"QR\"]')",
            (now,),
        )
    command.downgrade(revisions.alembic_config(url), "0011")
    with sqlite3.connect(tmp_path / "m.db") as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not names & {"ordering_pauses", "ordering_changes"}


def test_when_each_order_was_made_ready_comes_over_from_its_history(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/m.db"
    revisions.upgrade(url, "0010")
    with sqlite3.connect(tmp_path / "m.db") as db:
        for order_id in ("ord_handed", "ord_recalled", "ord_cooking"):
            db.execute(
                "INSERT INTO orders (id, status, version, order_type, currency, total_amount, paid_amount,"
                " created_at, updated_at) VALUES (?, 'New', 1, 'DineIn', 'GBP', 100, 0,"
                " '2026-01-01 12:00:00.000000', '2026-01-01 12:00:00.000000')",
                (order_id,),
            )
        moves = [
            ("ord_handed", "12:10", "Prepared", "Ready"),
            ("ord_handed", "12:11", "Ready", "Prepared"),  # recalled, then made Ready again
            ("ord_handed", "12:14", "Prepared", "Ready"),
            ("ord_handed", "12:20", "Ready", "Finalized"),  # handed over: keeps its Ready
            ("ord_recalled", "12:12", "Prepared", "Ready"),
            ("ord_recalled", "12:13", "Ready", "Prepared"),
            ("ord_cooking", "12:05", "Accepted", "Preparing"),
        ]
        db.executemany(
            "INSERT INTO order_history (order_id, at, kind, from_status, to_status, actor)"
            " VALUES (?, '2026-01-01 ' || ? || ':00.000000', 'STATUS_CHANGED', ?, ?, 'staff:pass')",
            moves,
        )
    revisions.upgrade(url)
    with sqlite3.connect(tmp_path / "m.db") as db:
        found = dict(db.execute("SELECT id, readied_at FROM orders").fetchall())
    assert found == {
        "ord_handed": "2026-01-01 12:14:00.000000",
        "ord_recalled": None,
        "ord_cooking": None,
    }
    command.downgrade(revisions.alembic_config(url), "0010")

"""The named statements every SQL store shares: their column lists are the ones the row
mapping writes, and they restyle for another driver's placeholders."""

from __future__ import annotations

import dataclasses
import re

from jobrunner.store.sql import queries
from jobrunner.store.sql.queries import ENTRY_VALUES, QUERIES


def _columns(sql: str) -> list[str]:
    listed = re.search(r"\(([^()]*)\) VALUES", sql)
    assert listed is not None
    return [c.strip().strip('"') for c in listed.group(1).split(",")]


def _marks(sql: str) -> int:
    values = sql.split("VALUES", 1)[1]
    return values.count("?") + values.count(", 1)")


def test_an_inserted_entry_is_its_id_number_values_and_version():
    assert _columns(QUERIES.insert_entry) == ["id", "entry_no", *ENTRY_VALUES, "version"]
    assert _marks(QUERIES.insert_entry) == len(ENTRY_VALUES) + 3


def test_every_insert_has_a_value_for_each_column():
    for name in ("insert_task", "put_entry_task", "insert_log", "insert_event", "put_pause"):
        sql = getattr(QUERIES, name)
        assert len(_columns(sql)) == _marks(sql), name


def test_restyled_statements_hold_only_the_new_placeholder():
    styled = QUERIES.styled("%s")
    for field in dataclasses.fields(styled):
        text = getattr(styled, field.name)
        assert "?" not in text, field.name
        assert text.count("%s") == getattr(QUERIES, field.name).count("?"), field.name
    assert QUERIES.styled("?") is QUERIES


def test_an_update_names_only_the_columns_that_changed():
    status = ENTRY_VALUES.index("status")
    assert queries.update_entry((status,), "%s") == (
        "UPDATE entries SET status = %s, version = version + 1 WHERE id = %s AND version = %s"
    )

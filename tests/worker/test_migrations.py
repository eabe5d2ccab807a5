"""The Alembic migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import worker.store  # noqa: F401
from worker.migrations import current_revision, upgrade_database


def test_upgrade_empty_database_matches_models(db_url: str) -> None:
    upgrade_database(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert {"messages", "tickets", "ticket_messages", "outbox", "mailbox_state",
            "events"} <= tables
    assert current_revision(db_url) is not None


def test_upgrade_twice_is_harmless_and_downgrade_empties(db_url: str) -> None:
    upgrade_database(db_url)
    upgrade_database(db_url)
    from alembic import command
    from worker.migrations import alembic_config

    command.downgrade(alembic_config(db_url), "base")
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()

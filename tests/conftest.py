"""Shared fixtures: a throwaway PostgreSQL database per test; server fixtures live in tests/servers.py."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

# The server the tests use: the machine's PostgreSQL on loopback (CI points here too).
PG_ADMIN_URL = os.environ.get("HELPDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"helpdesk_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """SQLAlchemy URL of a fresh SQLite file in the test's own folder."""
    return f"sqlite:///{tmp_path / 'helpdesk.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Run a store test on both backends the product supports."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")

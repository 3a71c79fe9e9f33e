"""The migrations build the schema the code declares: no table, column, index or constraint of
``store.models`` is missing from (or extra in) a database migrated from empty, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.models import metadata


def test_a_migrated_database_matches_the_models(migrated):
    with migrated.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []

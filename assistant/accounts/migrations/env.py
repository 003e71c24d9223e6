"""Alembic's environment for the state database: always online, on the connection (and the
transaction, which holds the migration lock) that `assistant.accounts.db.migrate` passes in."""

from __future__ import annotations

from alembic import context

from assistant.accounts.db import VERSION_TABLE
from assistant.accounts.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the state database is migrated through assistant.accounts.db.migrate, not the alembic command")
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=True)  # SQLite alters tables by copying them
with context.begin_transaction():
    context.run_migrations()

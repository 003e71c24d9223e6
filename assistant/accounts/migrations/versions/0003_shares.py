"""Share links of conversations, and whether each saved answer was a refusal (the admin page
counts and groups refusals; reading every answer's JSON for that would not scale).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never Alembic's batch mode: on SQLite that copies and drops the table,
    # and dropping `conversations` with foreign keys on deletes every turn (ON DELETE CASCADE).
    op.add_column("conversations", sa.Column("share", sa.String(64), nullable=True))
    op.create_index("uq_conversations_share", "conversations", ["share"], unique=True)
    op.add_column("turns", sa.Column("refused", sa.Boolean, nullable=False, server_default=sa.false()))
    # Turns saved before this revision: their answer's JSON says whether it refused.
    conn = op.get_bind()
    turns = sa.table("turns", sa.column("id", sa.String), sa.column("answer", sa.Text),
                     sa.column("refused", sa.Boolean))
    refused = [row.id for row in conn.execute(sa.select(turns.c.id, turns.c.answer))
               if json.loads(row.answer).get("refused")]
    if refused:
        conn.execute(sa.update(turns).where(turns.c.id.in_(refused)).values(refused=True))
    op.create_index("ix_turns_created", "turns", ["created"])


def downgrade() -> None:
    op.drop_index("ix_turns_created", "turns")
    op.drop_column("turns", "refused")  # SQLite 3.35+ drops a column in place
    op.drop_index("uq_conversations_share", "conversations")
    op.drop_column("conversations", "share")

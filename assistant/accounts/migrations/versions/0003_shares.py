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
    with op.batch_alter_table("conversations") as batch:  # batch: SQLite cannot add a unique column in place
        batch.add_column(sa.Column("share", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_conversations_share", ["share"])
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("refused", sa.Boolean, nullable=False, server_default=sa.false()))
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
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("refused")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("uq_conversations_share", type_="unique")
        batch.drop_column("share")

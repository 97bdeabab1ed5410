"""Skip and comment per keyword; undo/redo state of each action.

keyword_state.skipped, keyword_state.comment; event.prev / event.post (the state of
the judged word before and after the action) and event.undo ("done", "undone",
"dropped"; NULL for actions that cannot be undone).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("keyword_state") as t:
        t.add_column(sa.Column("skipped", sa.Boolean, nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("comment", sa.Text, nullable=True))
    with op.batch_alter_table("event") as t:
        t.add_column(sa.Column("prev", sa.String(16), nullable=True))
        t.add_column(sa.Column("post", sa.String(16), nullable=True))
        t.add_column(sa.Column("undo", sa.String(8), nullable=True))
    op.create_index("ix_event_annotator_undo", "event", ["annotator_id", "undo"])


def downgrade():
    op.drop_index("ix_event_annotator_undo", table_name="event")
    with op.batch_alter_table("event") as t:
        t.drop_column("undo")
        t.drop_column("post")
        t.drop_column("prev")
    with op.batch_alter_table("keyword_state") as t:
        t.drop_column("comment")
        t.drop_column("skipped")

"""The schema before migrations existed (commit 9d70c02): annotator, keyword_state, judgement, event.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "annotator",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("page", sa.Integer, nullable=False),
        sa.Column("finished", sa.Float, nullable=True),
        sa.UniqueConstraint("task", "user", name="uq_annotator_task_user"),
    )
    op.create_table(
        "keyword_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("annotator_id", sa.Integer, sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("keyword", sa.Text, nullable=False),
        sa.Column("opened", sa.Float, nullable=False),
        sa.Column("changed", sa.Float, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.UniqueConstraint("annotator_id", "keyword", name="uq_keyword_state"),
    )
    op.create_table(
        "judgement",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("annotator_id", sa.Integer, sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("keyword", sa.Text, nullable=False),
        sa.Column("lang", sa.String(3), nullable=False),
        sa.Column("word", sa.Text, nullable=False),
        sa.Column("mark", sa.String(3), nullable=True),
        sa.Column("added", sa.Boolean, nullable=False),
        sa.Column("changed", sa.Float, nullable=False),
        sa.UniqueConstraint("annotator_id", "keyword", "lang", "word", name="uq_judgement"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("annotator_id", sa.Integer, sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("keyword", sa.Text, nullable=True),
        sa.Column("lang", sa.String(3), nullable=True),
        sa.Column("word", sa.Text, nullable=True),
        sa.Column("value", sa.String(16), nullable=True),
    )
    op.create_index("ix_event_annotator_ts", "event", ["annotator_id", "ts"])


def downgrade():
    op.drop_index("ix_event_annotator_ts", table_name="event")
    for name in ("event", "judgement", "keyword_state", "annotator"):
        op.drop_table(name)

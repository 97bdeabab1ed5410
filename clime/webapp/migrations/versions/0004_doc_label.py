"""The document page: doc_label (each annotator's current label of a chosen target document).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "doc_label",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("annotator_id", sa.Integer, sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("doc_id", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("changed", sa.Float, nullable=False),
        sa.UniqueConstraint("annotator_id", "doc_id", name="uq_doc_label"),
    )


def downgrade():
    op.drop_table("doc_label")

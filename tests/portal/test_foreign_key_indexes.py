"""Every foreign key is led by an index: deleting the row it points to (an account, an agenda)
makes the database visit the rows that point to it, and without an index that is a scan of
the whole table for each deletion (migration 0036)."""
from directory.db import db
from portal import create_app


def _leading_columns(table) -> set[tuple[str, ...]]:
    """The column prefixes an index of `table` can be searched by, the primary key's and
    unique constraints' included."""
    keys = [tuple(index.columns.keys()) for index in table.indexes]
    keys += [tuple(constraint.columns.keys()) for constraint in table.constraints
             if hasattr(constraint, "columns") and constraint.columns
             and constraint.__class__.__name__ in ("PrimaryKeyConstraint", "UniqueConstraint")]
    return {key[:n] for key in keys for n in range(1, len(key) + 1)}


def test_every_foreign_key_is_led_by_an_index():
    create_app()            # imports every package's models into db.metadata
    unindexed = []
    for table in db.metadata.sorted_tables:
        prefixes = _leading_columns(table)
        for key in table.foreign_key_constraints:
            columns = tuple(key.columns.keys())
            if columns not in prefixes:
                unindexed.append(f"{table.name}{columns} → {key.referred_table.name}")
    assert unindexed == []

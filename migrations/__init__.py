"""Alembic environment and versions: the only way Caviar's schema is made or changed.

Shipped inside the distribution so that `caviar serve` can upgrade any
database to head from any working directory (see service.db.migrate).
"""

"""Adopting the earlier backend's database in place (run by the initial Alembic revision)."""

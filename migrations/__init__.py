"""Alembic migrations, shipped inside the package so `baseten-bot migrate` works after `pip install .`."""

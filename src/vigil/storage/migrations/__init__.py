"""Alembic migrations of Vigil's database, shipped inside the package.

They run at start-up through :func:`vigil.storage.schema.migrate`; there is no
``alembic.ini``. To write a new revision during development::

    python -m vigil.storage.schema revision -m "what changes" --autogenerate
"""

"""Caviar's domain: what the CLI, the server and the worker all speak.

Search specs and their rules, scales and the search space, the training keys,
dataset names, the worker protocol's messages, and the trial lifecycle (states,
transitions, leases). Pure Python, pydantic, NumPy and SciPy: nothing here
imports FastAPI or SQLAlchemy, so a worker node and the CLI can use all of it.
"""

"""The Caviar worker: pull loop, HTTP client, datasets and the NumPy engine (worker.nn).

Nothing here imports the server (`service`): a worker node needs NumPy and httpx only.
"""

"""The Caviar server: FastAPI app, SQL storage, search-space sampling, early stopping, dashboard."""

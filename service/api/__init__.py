"""The REST API under /api/v1: request schemas, JSON views and the routes."""

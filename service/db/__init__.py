"""SQL storage: the table models and the engine/session handling."""

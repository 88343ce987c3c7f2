"""The NumPy training engine (METHODS.md section 2) and its gradient check (section 3)."""

"""Search specs and how trials are chosen: the spec schema, scales, the search space,
samplers and the early-stopping rule. Pure Python + NumPy/SciPy + pydantic: no
database or web code, so the CLI can validate a spec without the server."""

"""How the server chooses trials: the samplers and the early-stopping rule.

The search spec, its rules, scales and the search space they work on are the
domain's (`domain.spec`, `domain.space`): the CLI and the worker share them.
"""

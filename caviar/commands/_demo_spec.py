"""The demo's search spec, built in so `caviar demo` works from an installed package.

It is examples/digits-adam-bn.yaml word for word (a test keeps the two equal).
"""

DEMO_SPEC_YAML = """\
# The search `caviar demo` runs (METHODS.md section 1): Adam with batch norm on the
# 8x8 digits, every parameter sampled on its appropriate scale.
#   caviar submit examples/digits-adam-bn.yaml --watch
name: digits-adam-bn
dataset: digits
split: {dev: 0.15, test: 0.15, seed: 0}
objective: {metric: dev_accuracy, goal: maximize}
budget: {max_trials: 60, max_parallel: 8, max_attempts: 3}
sampler: {kind: random, seed: 0}
early_stopping: {kind: none}
parameters:
  learning_rate: {type: float, low: 1.0e-4, high: 1.0, scale: log}        # each decade alike
  beta1:         {type: float, low: 0.9, high: 0.999, scale: reverse_log}  # 1-beta1 on a log scale
  num_layers:    {type: int, low: 2, high: 4}
  hidden_units:  {type: int, low: 50, high: 100}
  batch_size:    {type: choice, values: [64, 128, 256, 512]}
fixed:
  optimizer: adam
  batch_norm: true
  epochs: 30
"""

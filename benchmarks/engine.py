"""Speed of the NumPy engine: samples per second training with batch norm and Adam.

Trains 64-256-256-10 and 784-512-512-10 networks (batch norm, ReLU, Adam) on random
float32 data at batch sizes 64 and 256 with one BLAS thread, and prints samples
per second for each case. When torch is importable it trains the same networks
(Linear(bias=False) + BatchNorm1d + ReLU, torch.optim.Adam, one thread) in the
same run and prints engine/torch. It also measures this machine's one-thread
float32 matmul peak (a large sgemm) and prints the fraction of it that the wide
network reaches at batch 256, counting 6 * batch * sum(n_in * n_out) FLOPs per
step. Other processes share the CPU, so every epoch is timed twice: by the
process's CPU time (what the training itself costs, unaffected by waiting for
a core; the headline figures) and by the wall clock. Each figure is the best
epoch over several rounds, engine and torch interleaved.

    .venv/bin/python benchmarks/engine.py [--rounds 5] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_blas import blas_description  # this folder
from threadpoolctl import threadpool_limits

from domain.training import TrainingConfig
from worker.nn.train import train

CASES = [((64, 256, 256, 10), 64), ((64, 256, 256, 10), 256),
         ((784, 512, 512, 10), 64), ((784, 512, 512, 10), 256)]
SAMPLES = {64: 16384, 784: 8192}
PEAK_SIZE = 2048


def random_data(n_features: int, n_samples: int, n_classes: int, seed: int = 0):
    """Standard-normal float32 inputs and uniform labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    y = rng.integers(0, n_classes, n_samples)
    return X, y


class EpochClock:
    """Shortest epoch by CPU time and by wall clock, from one tick per epoch end."""

    def __init__(self) -> None:
        self.best_cpu = self.best_wall = float("inf")
        self.start()

    def start(self) -> None:
        """Mark the start of the next epoch."""
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def tick(self, *_: object) -> None:
        """Mark the end of an epoch (and the start of the next)."""
        cpu, wall = time.process_time(), time.perf_counter()
        self.best_cpu = min(self.best_cpu, cpu - self._cpu)
        self.best_wall = min(self.best_wall, wall - self._wall)
        self._cpu, self._wall = cpu, wall

    def rates(self, samples: int) -> tuple[float, float]:
        """Samples per CPU second and per wall second of the best epochs."""
        return samples / self.best_cpu, samples / self.best_wall


def engine_rate(sizes: tuple[int, ...], batch: int, X, y, epochs: int) -> tuple[float, float]:
    """Best epoch's samples per second (CPU, wall) of worker.nn.train."""
    config = TrainingConfig(hidden_layers=list(sizes[1:-1]), batch_norm=True,
                            optimizer="adam", batch_size=batch, epochs=epochs)
    clock = EpochClock()
    train(config, X, y, X[:64], y[:64], on_epoch=clock.tick)
    return clock.rates(len(X))


def torch_rate(sizes: tuple[int, ...], batch: int, X, y, epochs: int) -> tuple[float, float]:
    """Best epoch's samples per second (CPU, wall) of the same network in torch."""
    import torch

    torch.manual_seed(0)
    layers: list = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [torch.nn.Linear(n_in, n_out, bias=False),
                   torch.nn.BatchNorm1d(n_out, momentum=0.1), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    clock = EpochClock()
    for _ in range(epochs):
        order = torch.randperm(len(X_t))
        for first in range(0, len(X_t), batch):
            index = order[first:first + batch]
            loss = torch.nn.functional.cross_entropy(model(X_t[index]), y_t[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        clock.tick()
    return clock.rates(len(X))


def matmul_peak(size: int = PEAK_SIZE, repeats: int = 5) -> float:
    """FLOP/s of the best of several size x size float32 matmuls, by CPU time."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        np.matmul(a, b, out=out)
        best = min(best, time.process_time() - start)
    return 2 * size**3 / best


def step_flops_per_sample(sizes: tuple[int, ...]) -> int:
    """6 * sum(n_in * n_out): forward, weight-gradient and input-gradient matmuls."""
    return 6 * sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))


def executed_flops_per_sample(sizes: tuple[int, ...]) -> int:
    """The matmul FLOPs both engines run: no input gradient for the first layer (data)."""
    return step_flops_per_sample(sizes) - 2 * sizes[0] * sizes[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
        has_torch = True
    except ImportError:
        has_torch = False

    with threadpool_limits(limits=1):
        print(f"{blas_description()}, one thread"
              + (f"; torch {torch.__version__}" if has_torch else "; torch not installed"))
        engine = {case: (0.0, 0.0) for case in CASES}
        reference = {case: (0.0, 0.0) for case in CASES}
        peak = 0.0
        for _ in range(args.rounds):
            peak = max(peak, matmul_peak())
            for case in CASES:
                sizes, batch = case
                X, y = random_data(sizes[0], SAMPLES[sizes[0]], sizes[-1])
                engine[case] = _best(engine[case], engine_rate(sizes, batch, X, y, args.epochs))
                if has_torch:
                    reference[case] = _best(reference[case],
                                            torch_rate(sizes, batch, X, y, args.epochs))

    print(f"float32 matmul peak, one thread ({PEAK_SIZE}^3 sgemm): {peak / 1e9:.1f} GFLOP/s")
    print("samples/s by CPU time (wall clock in brackets)")
    print(f"{'network':<15} {'batch':>5} {'engine':>16} {'torch':>16} {'engine/torch':>15}")
    for case in CASES:
        sizes, batch = case
        (cpu, wall), (torch_cpu, torch_wall) = engine[case], reference[case]
        torch_text = f"{torch_cpu:7.0f} ({torch_wall:6.0f})" if has_torch else "-"
        ratio = f"{cpu / torch_cpu:5.2f} ({wall / torch_wall:4.2f})" if has_torch else "-"
        print(f"{'-'.join(map(str, sizes)):<15} {batch:>5} {cpu:7.0f} ({wall:6.0f}) "
              f"{torch_text:>16} {ratio:>15}")
    wide = (784, 512, 512, 10)
    achieved = engine[(wide, 256)][0] * step_flops_per_sample(wide)
    executed = engine[(wide, 256)][0] * executed_flops_per_sample(wide)
    print(f"{'-'.join(map(str, wide))} at batch 256: {achieved / 1e9:.1f} GFLOP/s "
          f"(6 * batch * sum(n_in * n_out) per step) = {achieved / peak:.0%} of the matmul peak; "
          f"matmuls actually run (no dX for the input layer): {executed / 1e9:.1f} GFLOP/s "
          f"= {executed / peak:.0%}")


def _best(current: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return max(current[0], new[0]), max(current[1], new[1])


if __name__ == "__main__":
    main()

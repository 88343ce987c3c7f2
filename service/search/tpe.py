"""TPE, the tree-structured Parzen estimator (METHODS.md §4), in the unit cube of the space.

Trial n < `startup_trials` is Sobol' point n, as SobolSampler proposes it. After
that, the trials with a usable value are ranked; the best γ(n) = min(⌈n / 10⌉, 25)
of the n are "good" and fit l(x), the rest fit g(x), and of `CANDIDATES` points
drawn from l the one with the largest l(x) / g(x) is proposed (Optuna's defaults
for γ and the candidate count). Working in the unit cube means log and
reverse_log scales need no case of their own: `Space` warps them.

Values compared:
- Without rungs, completed trials' values. A pruned trial's value is its best
  over fewer epochs, not comparable with a completed trial's, and the median
  rule pruned it for being worse than the completed trials at the same epoch,
  so it would not be among the best 10% anyway: it counts as bad.
- With rungs (ASHA, Hyperband: some trial has `at_rungs`), values at equal
  budget, as BOHB does: the highest rung that holds at least
  max(startup_trials, `MIN_AT_RUNG`) values (else the rung with the most), each
  trial's value there. A finished trial without a value there (it stopped at
  a lower rung, or started above it) does not count. Completed trials' final
  values are not a level of their own: `epochs` may be searched, so they need
  not share a budget.
- Constant liar: a trial not yet ended (pending, running, or paused under
  ASHA with resume) that has no usable value counts as bad at its params, so
  that parallel workers are not sent to the same place. A failed trial, or a
  non-finite value (a diverged run), counts as bad too. Cancelled trials do
  not count.

The densities are mixtures of one kernel per observation plus a prior kernel,
equally weighted (the objective of a search does not drift, so old trials are
not weighed down as Optuna's ramp does; and the good group is capped at 25):
- float and int dimensions: a Gaussian truncated to [0, 1]; the prior is
  N(0.5, 1). Bandwidth: Optuna's Scott-like rule for multivariate TPE (up to
  Optuna 4; 5 uses neighbour distances), 0.2 n^(-1/(d+4)) for n observations
  in d dimensions, with its "magic clip" floor 1 / min(100, n + 2). The same
  rule serves every kernel of a group (with d = 1 for the per-dimension
  densities): it narrows slowly with n and never collapses on a tight cluster
  of good trials (Optuna 5's per-observation neighbour-distance widths were
  tried: worse on two of the three tasks of benchmarks/efficiency.py, the
  default stalling on one; benchmarks/README.md). Int dimensions use the same
  continuous kernel: `Space` gives every integer a bin of its own width on its
  scale, an observation sits at its bin's centre and any point of the bin maps
  back to that integer, so the density at a point estimates its integer's
  share; a kernel discretized over the bins (Optuna's) would score a whole bin
  instead of a point in it, at the cost of two CDF evaluations per kernel and
  candidate.
- choice dimensions: a categorical kernel over the values, as Optuna's: an
  observation's kernel keeps its own value with probability 1 / (1 + K a) and
  else draws one of the K values uniformly, with a = 1 / (n + 1) (the prior's
  weight shared among the kernels); the prior is uniform. No distance between
  values is assumed.

`multivariate` fits one joint density (product kernels) over every dimension;
otherwise each dimension gets its own l and g, candidates and choice.

Cost: past `MAX_BAD` finished bad trials, g is fitted to a deterministic
subsample of them (every k-th by trial number, at most `MAX_BAD`) and to every
live trial. At 10,000 finished trials of 8 parameters a proposal then costs
about 7 ms of CPU (11 ms per parameter); without the cap, 25 ms (51 ms per
parameter, over the 50 ms budget; benchmarks/sampling.py). Given the seed and
the history, the proposal is the same: candidates come from the trial's own
generator.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp, ndtr, ndtri

from domain.lifecycle.states import TERMINAL, TrialStatus
from domain.params import ChoiceParam
from domain.space import Space
from service.search.samplers import HistoryEntry, Proposal, SobolSampler

CANDIDATES = 24
"""Points drawn from l(x) per proposal (per dimension when not multivariate)."""

GOOD_MAX = 25
"""The good group's cap: γ(n) = min(⌈n / 10⌉, 25)."""

MIN_AT_RUNG = 20
"""A rung needs this many values (or startup_trials, if more) to be compared at: at
γ = 10%, two good trials, so that l(x) is more than one kernel and the prior."""

MAX_BAD = 2_000
"""The most observations g(x) is fitted to (see the module docstring, "Cost")."""


@dataclass(frozen=True)
class TPESampler:
    """Sobol' points for the first `startup_trials` trials, then TPE's best candidate."""

    seed: int
    startup_trials: int
    multivariate: bool
    goal: str

    def sample(
        self, space: Space, history: Sequence[HistoryEntry], rng: np.random.Generator
    ) -> Proposal | None:
        if len(history) < self.startup_trials:
            return SobolSampler(self.seed).sample(space, history, rng)
        good, bad = self.split(history)
        sizes = [len(dim.param.values) if isinstance(dim.param, ChoiceParam) else 0
                 for dim in space.dims]
        l_points, g_points = space.to_unit_many(good), space.to_unit_many(bad)
        if self.multivariate:
            point = _best_candidate(l_points, g_points, sizes, rng)
        else:
            point = np.concatenate([
                _best_candidate(l_points[:, [j]], g_points[:, [j]], [size], rng)
                for j, size in enumerate(sizes)
            ])
        return Proposal(space.from_unit(point))

    def capacity(self, space: Space) -> int | None:
        return None

    def split(
        self, history: Sequence[HistoryEntry]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The params of the good trials, best first, and of the bad ones (see the module
        docstring for which trials count, at which value, and the cap on the bad ones)."""
        rung = self._rung(history)
        sign = -1.0 if self.goal == "maximize" else 1.0
        scores = []  # per trial: sign * value (lower is better), inf if bad, nan if not counted
        lies = []
        for position, entry in enumerate(history):
            if rung is None:
                value = entry.value if entry.status == TrialStatus.COMPLETED else None
            else:
                value = entry.at_rungs.get(rung)
            if value is not None and math.isfinite(value):
                scores.append(sign * value)
            elif value is None and entry.status not in TERMINAL:  # the constant liar
                lies.append(position)
                scores.append(math.nan)
            elif value is not None or entry.status == TrialStatus.FAILED or (
                    rung is None and entry.status != TrialStatus.CANCELLED):
                scores.append(math.inf)
            else:
                scores.append(math.nan)
        ranks = np.array(scores)
        valued = np.flatnonzero(np.isfinite(ranks))
        good = valued[np.argsort(ranks[valued], kind="stable")[:min(-(-len(valued) // 10),
                                                                      GOOD_MAX)]]
        ranks[good] = math.nan
        finished_bad = np.flatnonzero(~np.isnan(ranks))
        bad = np.concatenate([finished_bad[::max(1, -(-len(finished_bad) // MAX_BAD))], lies])
        return [history[int(i)].params for i in good], [history[int(i)].params for i in bad]

    def _rung(self, history: Sequence[HistoryEntry]) -> int | None:
        """The rung's epochs whose values are compared; None when no trial has reached one."""
        counts = Counter(epochs for entry in history for epochs in entry.at_rungs)
        if not counts:
            return None
        enough = [epochs for epochs, count in counts.items()
                  if count >= max(self.startup_trials, MIN_AT_RUNG)]
        return max(enough) if enough else max(counts, key=lambda epochs: (counts[epochs], epochs))


def _best_candidate(good: NDArray[np.float64], bad: NDArray[np.float64], sizes: Sequence[int],
                    rng: np.random.Generator) -> NDArray[np.float64]:
    """Of `CANDIDATES` points drawn from l (fitted to `good`), the one maximizing l / g."""
    below, above = _Parzen(good, sizes), _Parzen(bad, sizes)
    candidates = below.draw(CANDIDATES, rng)
    return candidates[int(np.argmax(below.log_pdf(candidates) - above.log_pdf(candidates)))]


class _Parzen:
    """A mixture in the unit cube: one product kernel per observed point and one prior kernel,
    equally weighted (kernels as in the module docstring). `sizes[j]` is the number of
    values of choice dimension j, 0 for a float or int dimension."""

    def __init__(self, points: NDArray[np.float64], sizes: Sequence[int]) -> None:
        n, d = points.shape  # the bandwidth: Scott-like, with Optuna's floor
        sigma = max(0.2 * max(n, 1) ** (-1.0 / (d + 4)), 1.0 / min(100, n + 2))
        self.sizes = sizes
        self.mus = np.vstack([points, np.full((1, d), 0.5)])
        self.sigmas = np.append(np.full(n, sigma), 1.0)
        self.log_weight = -math.log(n + 1)

    def draw(self, count: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """`count` points drawn from the mixture."""
        kernel = rng.integers(len(self.sigmas), size=count)
        mus, sigmas = self.mus[kernel], self.sigmas[kernel]
        points = np.empty((count, len(self.sizes)))
        for j, size in enumerate(self.sizes):
            u = rng.random(count)
            if size:
                keep = rng.random(count) < self._keep(size)[kernel]
                values = np.where(keep, _bins(mus[:, j], size), np.floor(u * size))
                points[:, j] = (values + 0.5) / size
            else:  # inverse CDF of the Gaussian truncated to [0, 1]
                low, high = ndtr(-mus[:, j] / sigmas), ndtr((1.0 - mus[:, j]) / sigmas)
                points[:, j] = mus[:, j] + sigmas * ndtri(low + u * (high - low))
        return np.clip(points, 0.0, 1.0)

    def log_pdf(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """The log density at each of `points` (one row each)."""
        logs = np.full((len(points), len(self.sigmas)), self.log_weight)
        for j, size in enumerate(self.sizes):
            if size:
                keep = self._keep(size)
                same = _bins(points[:, j], size)[:, None] == _bins(self.mus[:, j], size)
                logs += np.log(np.where(same, keep, 0.0) + (1.0 - keep) / size)
            else:
                mus = self.mus[:, j]
                z = (points[:, j, None] - mus) / self.sigmas
                mass = ndtr((1.0 - mus) / self.sigmas) - ndtr(-mus / self.sigmas)
                logs -= 0.5 * z * z + np.log(self.sigmas * mass * math.sqrt(2 * math.pi))
        return np.asarray(logsumexp(logs, axis=1))

    def _keep(self, size: int) -> NDArray[np.float64]:
        """Each kernel's probability of keeping its own value in a dimension of `size` values."""
        n = len(self.sigmas) - 1
        return np.append(np.full(n, 1.0 / (1.0 + size / (n + 1))), 0.0)


def _bins(units: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    """The choice value index of each unit coordinate in a dimension of `size` values."""
    return np.minimum(np.floor(units * size), size - 1)

"""How good is a predictive distribution of real-valued outputs?

Inputs are samples of shape `(n, outputs, samples)` (an `MCResult` with
`task="regression"` too), or a predictive mean and variance of shape
`(n, outputs)`; targets `y` have shape `(n, outputs)`, or `(n,)` when there
is one output. Each function returns the mean over items and outputs, in the
units given (CRPS and RMSE in those of `y`, NLL in nats).

Samples of network outputs describe the model's (epistemic) uncertainty only.
A result that also carries a predicted noise variance (`noise_variance`, from
a heteroscedastic model) adds it in `gaussian_nll`; `crps` and
`interval_coverage` need draws from the predictive distribution itself and
refuse such a result with the recipe for them.
"""

from __future__ import annotations

import numpy as np

from mcbridge._checks import as_numeric_array, check_number

__all__ = ["gaussian_nll", "crps", "rmse", "interval_coverage", "VAR_FLOOR"]

#: Default floor on the predictive variance in `gaussian_nll`, in the units
#: of `y` squared: a zero variance (one sample, or identical samples) gives a
#: large but finite NLL instead of infinity.
VAR_FLOOR = 1e-6


def _is_result(obj) -> bool:
    return hasattr(obj, "samples") and hasattr(obj, "task")


def _array(a, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    arr = as_numeric_array(a, name).astype(np.float64, copy=False)
    if arr.ndim not in ndim or arr.size == 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a non-empty "
            f"{' or '.join(f'{d}-d' for d in ndim)} array. Received: shape={arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"Invalid value received for argument `{name}`: it holds NaN or infinite values."
        )
    return arr


def _noise(result):
    noise = getattr(result, "noise_variance", None)
    return None if noise is None else np.asarray(noise, dtype=np.float64)


def _samples(samples, noise_ok: bool = True) -> np.ndarray:
    if _is_result(samples):
        if not noise_ok and _noise(samples) is not None:
            raise ValueError(
                "This result carries a predicted noise variance, which the samples do "
                "not include. Pass draws from the predictive distribution instead, e.g. "
                "`r.samples + np.sqrt(r.noise_variance) * rng.standard_normal(r.samples.shape)`."
            )
        if samples.task != "regression":
            raise ValueError(
                "Invalid value received for argument `samples`. Expected an MCResult "
                f"with task='regression'. Received: task={samples.task!r}"
            )
        samples = samples.samples
    return _array(samples, "samples", (3,))


def _targets(y, shape: tuple[int, int]) -> np.ndarray:
    y = _array(y, "y", (1, 2))
    if y.ndim == 1 and shape[1] == 1:
        y = y[:, None]
    if y.shape != shape:
        raise ValueError(
            "Invalid value received for argument `y`. Expected targets of shape "
            f"{shape}" + (f" or ({shape[0]},)" if shape[1] == 1 else "") + f". Received: shape={y.shape}"
        )
    return y


def _mean(mean, name: str = "mean") -> np.ndarray:
    if _is_result(mean):
        return np.asarray(_samples(mean).mean(axis=2))
    mean = _array(mean, name, (1, 2))
    return mean[:, None] if mean.ndim == 1 else mean


def gaussian_nll(mean, var=None, y=None, *, var_floor: float = VAR_FLOOR) -> float:
    """Mean negative log-likelihood of `y` under `Normal(mean, var)`, in nats.

    `0.5 * (log(2 pi v) + (y - mean)**2 / v)` with `v = max(var, var_floor)`,
    averaged over items and outputs. Called as `gaussian_nll(result, y)` on a
    regression `MCResult`, it uses the samples' mean and unbiased variance
    (ddof = 1), i.e. the Gaussian fitted to the samples, plus the mean
    predicted noise variance when the result carries one.

    Args:
        mean: Predictive means, shape `(n, outputs)` (or `(n,)`), or an
            `MCResult` with `task="regression"`.
        var: Predictive variances, same shape as `mean` (units of `y`
            squared); with an `MCResult` as `mean`, the targets instead.
        y: Targets, shape `(n, outputs)` (or `(n,)` for one output).
        var_floor: Variances below this are raised to it (default `1e-6`).

    Returns:
        The mean NLL (nats), a float.

    Raises:
        ValueError: shapes disagree, values are not finite, variances are
            negative, or the result has fewer than 2 samples.
    """
    if _is_result(mean):
        if y is not None:
            raise TypeError("gaussian_nll(result, y) takes the targets as its second argument only.")
        s, noise = _samples(mean), _noise(mean)
        if s.shape[2] < 2 and noise is None:
            raise ValueError(
                "Invalid value received for argument `mean`: a variance needs at "
                f"least 2 samples. Received: {s.shape[2]} sample"
            )
        v = s.var(axis=2, ddof=1) if s.shape[2] > 1 else np.zeros(s.shape[:2])
        if noise is not None:
            v = v + noise.mean(axis=2)
        mu, y = s.mean(axis=2), var
    else:
        if var is None or y is None:
            raise TypeError("gaussian_nll needs `mean`, `var` and `y` (or an MCResult and `y`).")
        mu, v = _mean(mean), _mean(var, "var")
        if v.shape != mu.shape:
            raise ValueError(
                "Arguments `mean` and `var` must have the same shape. Received: "
                f"{mu.shape} and {v.shape}"
            )
    var_floor = check_number("var_floor", var_floor, minimum=0, min_open=True)
    if v.min() < 0:
        raise ValueError("Invalid value received for argument `var`: variances must be >= 0.")
    y = _targets(y, mu.shape)
    v = np.maximum(v, var_floor)
    return float(np.mean(0.5 * (np.log(2 * np.pi * v) + (y - mu) ** 2 / v)))


def crps(samples, y) -> float:
    """Continuous ranked probability score of the samples' empirical distribution.

    The energy form `E|X - y| - E|X - X'| / 2`, with `X, X'` drawn
    independently from the `S` samples (all `S**2` pairs, so it is exactly
    the CRPS of the empirical CDF; the "fair" variant with `S (S - 1)` pairs
    is not used). The pair term is computed in `O(S log S)` by sorting:
    `sum_{i,j} |x_i - x_j| = 2 sum_i (2 i - S - 1) x_(i)`, `x_(i)` the `i`-th
    smallest (1-based). Lower is better; for one sample it is `|x - y|`.

    Args:
        samples: `(n, outputs, samples)` array or regression `MCResult`.
        y: Targets, shape `(n, outputs)` (or `(n,)` for one output).

    Returns:
        The mean CRPS over items and outputs, in the units of `y`.

    Raises:
        ValueError: shapes disagree, values are not finite, or `samples` is
            a result with a predicted noise variance (see the module doc).
    """
    s = _samples(samples, noise_ok=False)
    y = _targets(y, s.shape[:2])
    m = s.shape[2]
    first = np.abs(s - y[:, :, None]).mean(axis=2)
    weights = 2.0 * np.arange(1, m + 1) - m - 1
    spread = np.sort(s, axis=2) @ weights / m**2  # E|X - X'| / 2
    return float(np.mean(first - spread))


def rmse(mean, y) -> float:
    """Root mean squared error of the predictive mean, over items and outputs.

    Args:
        mean: `(n, outputs)` (or `(n,)`) predictions, or a regression
            `MCResult` (its mean over samples).
        y: Targets of the same shape.

    Returns:
        The RMSE, in the units of `y`.
    """
    mu = _mean(mean)
    y = _targets(y, mu.shape)
    return float(np.sqrt(np.mean((mu - y) ** 2)))


def interval_coverage(samples, y, level: float = 0.9) -> float:
    """Fraction of targets inside the central `level` interval of the samples.

    The interval runs from the `(1 - level) / 2` to the `(1 + level) / 2`
    empirical quantile of each item's samples, by linear interpolation
    between order statistics (NumPy's default `"linear"`, R's
    `quantile(type = 7)`); ends count as inside. A calibrated predictive
    distribution covers about `level` of the targets.

    Args:
        samples: `(n, outputs, samples)` array or regression `MCResult`.
        y: Targets, shape `(n, outputs)` (or `(n,)` for one output).
        level: Nominal coverage, in (0, 1).

    Returns:
        The observed coverage, a fraction in [0, 1].

    Raises:
        ValueError: shapes disagree, `level` is not in (0, 1), or `samples`
            is a result with a predicted noise variance (see the module doc).
    """
    level = check_number("level", level, minimum=0, maximum=1, min_open=True, max_open=True)
    s = _samples(samples, noise_ok=False)
    y = _targets(y, s.shape[:2])
    lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2], axis=2)
    return float(np.mean((lo <= y) & (y <= hi)))
